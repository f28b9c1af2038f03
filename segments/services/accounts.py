"""Accounts: the members segments are about. An account's alias is free among its
ledger's live accounts (0020); its portfolio is a live portfolio of the same ledger
(0035); its parent account too, without cycles; its segment takes members of its ledger
(``membership.segment_for_member``). Type, asset code, alias and ledger never change.
An account that is the parent of live accounts is not deleted, and a deleted one leaves
its segment. Changes of its segment are recorded in the segments' history. A segment set
by hand pins it; ``segment_id=None`` unpins it; after every write the rules of its scope
place it (``services.evaluation.apply_rules_to``), in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segments import errors, locking
from segments.ids import as_uuid
from segments.locking import atomic_service
from segments.models import Account, AssignedBy, HistoryAction, Ledger, Portfolio
from segments.services.evaluation import apply_rules_to
from segments.services.events import emit_entity
from segments.services.history import record_membership, record_move
from segments.services.membership import segment_for_member, segment_or_none
from segments.services.rows import delete_checked, hold_live, hold_parent, lock_for_update
from segments.services.validation import (
    new_entity,
    refuse_unknown_changes,
    save_changes,
    validate_and_insert,
)


def _portfolio_in_ledger(ledger: Ledger, portfolio_id: Any) -> Portfolio:
    """An account's portfolio is a live portfolio of the same ledger (else 0035)."""
    portfolio_uuid = as_uuid(portfolio_id, "portfolio_id")
    if not Portfolio.objects.filter(
        pk=portfolio_uuid, ledger_id=ledger.pk
    ).exists() or not hold_live(Portfolio, portfolio_uuid):
        raise errors.PortfolioNotFound(
            entity_type="Portfolio", fields={"portfolio_id": "portfolio not found in this ledger"}
        )
    return Portfolio.objects.get(pk=portfolio_uuid)


def _parent_account_in_ledger(account: Account, parent_id: Any) -> None:
    """A parent account is a live account of the same ledger, and never a descendant
    of the account itself (no cycles)."""
    parent_uuid = as_uuid(parent_id, "parent_account_id")
    parent = Account.objects.filter(pk=parent_uuid, ledger_id=account.ledger_id).first()
    if parent is None or not hold_live(Account, parent_uuid):
        raise errors.InvalidField(
            "The parent account was not found in this ledger.",
            entity_type="Account",
            fields={"parent_account_id": "parent account not found in this ledger"},
        )
    seen = {account.pk}
    cursor: Account | None = parent
    while cursor is not None:
        if cursor.pk in seen:
            raise errors.InvalidField(
                "An account cannot be its own ancestor.",
                entity_type="Account",
                fields={"parent_account_id": "would create a cycle"},
            )
        seen.add(cursor.pk)
        cursor = (
            Account.all_objects.filter(pk=cursor.parent_account_id).first()
            if cursor.parent_account_id
            else None
        )


@atomic_service
def create_account(actor, ledger: Ledger, **fields: Any) -> Account:
    """Create an account in a live ledger. Its alias is free among the ledger's live
    accounts (0020); its portfolio belongs to the same ledger (0035); its parent account
    too, without cycles; its segment accepts members of that ledger."""
    account = new_entity(
        Account,
        fields,
        set_apart={"segment_id", "portfolio_id", "parent_account_id"},
        organization_id=ledger.organization_id,
        ledger=ledger,
    )
    hold_parent(Ledger, ledger.pk)
    if account.blocked is None:
        account.blocked = False
    if fields.get("segment_id") is not None:  # segments before member rows (locking)
        account.segment = segment_for_member(ledger, fields["segment_id"])
        account.segment_assigned_by = AssignedBy.MANUAL
    if fields.get("portfolio_id") is not None:
        account.portfolio = _portfolio_in_ledger(ledger, fields["portfolio_id"])
    if fields.get("parent_account_id") is not None:
        _parent_account_in_ledger(account, fields["parent_account_id"])
        account.parent_account_id = as_uuid(fields["parent_account_id"], "parent_account_id")
    validate_and_insert(account)
    record_membership(
        account.segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, account_ids=[account.pk]
    )
    apply_rules_to(account, actor)
    emit_entity(account, "created")
    return account


def _lock_move(account: Account, changes: Mapping[str, Any]) -> None:
    """A change of segment or portfolio locks, in the order of ``segments.locking``, the
    new segment and portfolio (with the current ones) before the account."""
    if "segment_id" not in changes and "portfolio_id" not in changes:
        return
    new_segment, new_portfolio = changes.get("segment_id"), changes.get("portfolio_id")
    locking.lock_members(
        account.organization_id,
        segments=[as_uuid(new_segment, "segment_id")] if new_segment is not None else [],
        portfolios=[as_uuid(new_portfolio, "portfolio_id")] if new_portfolio is not None else [],
        accounts=[account.pk],
    )


@atomic_service
def update_account(
    actor, account: Account, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Account:
    """Change an account; ``segment_id=None`` or ``portfolio_id=None`` clears them. Type,
    asset code, alias and ledger never change."""
    refuse_unknown_changes(Account, changes)
    _lock_move(account, changes)
    account = lock_for_update(account)
    previous_segment_id = account.segment_id
    if "portfolio_id" in changes:
        new_id = changes["portfolio_id"]
        account.portfolio = (
            _portfolio_in_ledger(account.ledger, new_id) if new_id is not None else None
        )
    if "segment_id" in changes:
        account.segment = segment_or_none(account.ledger, changes["segment_id"])
        account.segment_assigned_by = AssignedBy.MANUAL if account.segment else None
    if changes.get("blocked", False) is None:
        raise errors.InvalidField(
            entity_type="Account", fields={"blocked": "must be true or false"}
        )
    account = save_changes(account, changes, if_match, handled={"portfolio_id", "segment_id"})
    record_move(previous_segment_id, account.segment_id, actor, account_ids=[account.pk])
    apply_rules_to(account, actor)
    emit_entity(account, "updated")
    return account


# create, update and delete_account are alike in shape to those of services/portfolios.py
# (membership history, rules, event); kept apart because the lock, the children that
# block a delete (child accounts here, held accounts there) and the history's id list are
# each the entity's own, and what comes before them differs: a shared body would take
# them all as parameters.
@atomic_service
def delete_account(actor, account: Account, *, if_match: str | None = None) -> None:
    """An account that is the parent of live accounts cannot be deleted (9002). A deleted
    account leaves its segment (recorded in the segment's history)."""
    locking.lock_members(account.organization_id, accounts=[account.pk])
    account = delete_checked(account, if_match, children={"accounts": "children"})
    emit_entity(account, "deleted")
    record_membership(
        account.segment_id,
        actor,
        HistoryAction.MEMBERS_REMOVED,
        account_ids=[account.pk],
        cause="delete",
    )
