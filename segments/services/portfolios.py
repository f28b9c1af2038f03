"""Portfolios: groups of accounts of one ledger. A portfolio's segment, if any, is one
that takes members of its ledger (``membership.segment_for_member``); a portfolio
holding live accounts is not deleted, and a deleted one leaves its segment. Changes of
its segment are recorded in the segments' history. A segment set by hand pins it;
``segment_id=None`` unpins it; after every write the rules of its scope place it and the
accounts its metadata decides for (``services.evaluation.apply_rules_to``), in the same
transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segments import locking
from segments.ids import as_uuid
from segments.locking import atomic_service
from segments.models import AssignedBy, HistoryAction, Ledger, Portfolio
from segments.services.evaluation import apply_rules_to
from segments.services.events import emit_entity
from segments.services.history import record_membership, record_move
from segments.services.membership import segment_for_member, segment_or_none
from segments.services.rows import delete_checked, hold_parent, lock_for_update
from segments.services.validation import (
    new_entity,
    refuse_unknown_changes,
    save_changes,
    validate_and_insert,
)


@atomic_service
def create_portfolio(actor, ledger: Ledger, **fields: Any) -> Portfolio:
    """Create a portfolio in a live ledger; its segment, if any, must accept members of
    that ledger (see ``segment_for_member``)."""
    portfolio = new_entity(
        Portfolio,
        fields,
        set_apart={"segment_id"},
        organization_id=ledger.organization_id,
        ledger=ledger,
    )
    hold_parent(Ledger, ledger.pk)
    if fields.get("segment_id") is not None:
        portfolio.segment = segment_for_member(ledger, fields["segment_id"])
        portfolio.segment_assigned_by = AssignedBy.MANUAL
    validate_and_insert(portfolio)
    record_membership(
        portfolio.segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, portfolio_ids=[portfolio.pk]
    )
    apply_rules_to(portfolio, actor)
    emit_entity(portfolio, "created")
    return portfolio


# Alike in shape to create/update of services/segments.py; kept apart because the shared
# part is the one service signature every entity has, and the body is this entity's own
# rules (a portfolio's membership and rules).
@atomic_service
def update_portfolio(
    actor, portfolio: Portfolio, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Portfolio:
    """Change a portfolio; ``segment_id=None`` takes it out of its segment."""
    refuse_unknown_changes(Portfolio, changes)
    if "segment_id" in changes:
        new_id = changes["segment_id"]
        locking.lock_members(
            portfolio.organization_id,
            segments=[as_uuid(new_id, "segment_id")] if new_id is not None else [],
            portfolios=[portfolio.pk],
        )
    portfolio = lock_for_update(portfolio)
    previous_segment_id = portfolio.segment_id
    if "segment_id" in changes:
        portfolio.segment = segment_or_none(portfolio.ledger, changes["segment_id"])
        portfolio.segment_assigned_by = AssignedBy.MANUAL if portfolio.segment else None
    portfolio = save_changes(portfolio, changes, if_match, handled={"segment_id"})
    record_move(previous_segment_id, portfolio.segment_id, actor, portfolio_ids=[portfolio.pk])
    apply_rules_to(portfolio, actor)
    emit_entity(portfolio, "updated")
    return portfolio


@atomic_service
def delete_portfolio(actor, portfolio: Portfolio, *, if_match: str | None = None) -> None:
    """A portfolio that still holds live accounts cannot be deleted (9002); leaving, it
    leaves its segment too."""
    locking.lock_members(portfolio.organization_id, portfolios=[portfolio.pk])
    portfolio = delete_checked(portfolio, if_match, children={"accounts": "accounts"})
    emit_entity(portfolio, "deleted")
    record_membership(
        portfolio.segment_id,
        actor,
        HistoryAction.MEMBERS_REMOVED,
        portfolio_ids=[portfolio.pk],
        cause="delete",
    )
