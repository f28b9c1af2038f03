"""Ledgers: the books of one organization. A ledger's name (trimmed) is free,
case-insensitively, among the live ledgers of its organization (0002); a ledger holding
live accounts, portfolios or segments is not deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segments.locking import atomic_service
from segments.models import Ledger, Organization
from segments.services.rows import delete_checked, hold_parent, lock_for_update
from segments.services.validation import (
    UPDATE_FIELDS,
    apply_changes,
    finish_update,
    new_entity,
    refuse_unknown,
    save,
    validate,
)


@atomic_service
def create_ledger(actor, organization: Organization, **fields: Any) -> Ledger:
    """Create a ledger in a live organization. Its name (trimmed) must be free,
    case-insensitively, among the live ledgers of the organization (0002)."""
    ledger = new_entity(Ledger, fields, organization=organization)
    hold_parent(Organization, organization.pk)
    validate(ledger)
    save(ledger, create=True)
    return ledger


@atomic_service
def update_ledger(
    actor, ledger: Ledger, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Ledger:
    """Change a ledger; a new name must be free, case-insensitively, among the other live
    ledgers of its organization (0002)."""
    refuse_unknown(Ledger, changes, UPDATE_FIELDS[Ledger])
    ledger = lock_for_update(ledger)
    apply_changes(ledger, changes, set())
    return finish_update(ledger, if_match)


def _live_children(ledger: Ledger) -> dict[str, int]:
    return {
        "accounts": ledger.accounts.live().count(),
        "portfolios": ledger.portfolios.live().count(),
        "segments": ledger.segments.live().count(),
    }


@atomic_service
def delete_ledger(actor, ledger: Ledger, *, if_match: str | None = None) -> None:
    """A ledger that still holds live accounts, portfolios or segments cannot be deleted
    (9002)."""
    delete_checked(ledger, if_match, _live_children)
