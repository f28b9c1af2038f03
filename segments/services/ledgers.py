"""Ledgers: the books of one organization. A ledger's name (trimmed) is free,
case-insensitively, among the live ledgers of its organization (0002); a ledger holding
live accounts, portfolios or segments is not deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segments.locking import atomic_service
from segments.models import Ledger, Organization
from segments.services.events import emit_entity
from segments.services.rows import delete_checked, hold_parent, lock_for_update
from segments.services.validation import (
    new_entity,
    refuse_unknown_changes,
    save_changes,
    validate_and_insert,
)


@atomic_service
def create_ledger(actor, organization: Organization, **fields: Any) -> Ledger:
    """Create a ledger in a live organization. Its name (trimmed) must be free,
    case-insensitively, among the live ledgers of the organization (0002)."""
    ledger = new_entity(Ledger, fields, organization=organization)
    hold_parent(Organization, organization.pk)
    validate_and_insert(ledger)
    emit_entity(ledger, "created")
    return ledger


# Alike in shape to create/update of services/portfolios.py and services/segments.py;
# kept apart because the shared part is the one service signature every entity has, and
# the body is this entity's own rules.
@atomic_service
def update_ledger(
    actor, ledger: Ledger, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Ledger:
    """Change a ledger; a new name must be free, case-insensitively, among the other live
    ledgers of its organization (0002)."""
    refuse_unknown_changes(Ledger, changes)
    ledger = lock_for_update(ledger)
    ledger = save_changes(ledger, changes, if_match)
    emit_entity(ledger, "updated")
    return ledger


@atomic_service
def delete_ledger(actor, ledger: Ledger, *, if_match: str | None = None) -> None:
    """A ledger that still holds live accounts, portfolios or segments cannot be deleted
    (9002)."""
    ledger = delete_checked(
        ledger,
        if_match,
        children={"accounts": "accounts", "portfolios": "portfolios", "segments": "segments"},
    )
    emit_entity(ledger, "deleted")
