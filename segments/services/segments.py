"""Segments: clusters of accounts and portfolios, in one ledger or, at organization
level, serving every ledger of the organization. A segment's name (trimmed) is free,
case-insensitively, among the live segments of its scope (0015); its scope never
changes. Every change is recorded in its history (``services.history``). A deleted
segment's rule is deleted with it (its priority is free again)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from segments import errors
from segments.locking import atomic_service
from segments.models import (
    Account,
    Benefit,
    HistoryAction,
    Ledger,
    Organization,
    Portfolio,
    Segment,
    SegmentRule,
)
from segments.services.benefits import delete_benefits_of
from segments.services.events import emit_entity, members_changed
from segments.services.history import record, snapshot
from segments.services.rows import hold_parent, lock_for_update, soft_delete
from segments.services.validation import (
    check_if_match,
    new_entity,
    refuse_unknown_changes,
    save,
    save_changes,
    validate_and_insert,
)


@atomic_service
def create_segment(actor, parent: Ledger | Organization, **fields: Any) -> Segment:
    """Create a segment in ``parent``: a ledger, or an organization for an
    organization-level segment. Its name (trimmed) must be free, case-insensitively, among
    the live segments of that scope (0015)."""
    ledger = parent if isinstance(parent, Ledger) else None
    organization = ledger.organization if ledger is not None else parent
    segment = new_entity(Segment, fields, organization=organization, ledger=ledger)
    hold_parent(Organization, organization.pk)
    if ledger is not None:
        hold_parent(Ledger, ledger.pk)
    validate_and_insert(segment)
    record(segment, actor, HistoryAction.CREATED, None, snapshot(segment))
    emit_entity(segment, "created")
    return segment


@atomic_service
def update_segment(
    actor, segment: Segment, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Segment:
    """Change a segment's name, description, status or metadata. The scope never changes.
    Members stay when the status leaves ACTIVE; only new assignments are refused then."""
    refuse_unknown_changes(Segment, changes)
    segment = lock_for_update(segment)
    before = snapshot(segment)
    segment = save_changes(segment, changes, if_match)
    after = snapshot(segment)
    changed = [key for key in after if before[key] != after[key]]
    record(
        segment,
        actor,
        HistoryAction.UPDATED,
        {key: before[key] for key in changed},
        {key: after[key] for key in changed},
    )
    emit_entity(segment, "updated")
    return segment


@atomic_service
def delete_segment(
    actor, segment: Segment, *, detach: bool = False, if_match: str | None = None
) -> dict[str, int]:
    """A segment that still has members (accounts or portfolios tagged with it) cannot be
    deleted (9001, counts in the message) unless ``detach`` is asked: then its members are
    cleared and it is deleted in the same transaction. Its benefits are deleted with it,
    in the same transaction. No member, live or deleted, is left pointing at a deleted
    segment. Returns the counts detached.

    The path of ``rows.delete_checked`` (lock → ``If-Match`` → check → soft delete), with
    members instead of children: they may be detached between the check and the delete."""
    segment = lock_for_update(segment)
    check_if_match(segment, if_match)
    counts = {
        "accounts": Account.objects.filter(segment_id=segment.pk).count(),
        "portfolios": Portfolio.objects.filter(segment_id=segment.pk).count(),
    }
    benefits = Benefit.objects.filter(segment_id=segment.pk).count()
    if (counts["accounts"] or counts["portfolios"]) and not detach:
        with_benefits = f" Its {benefits} benefit(s) would be deleted with it." if benefits else ""
        raise errors.SegmentHasMembers(
            f"Segment '{segment.name}' still has {counts['accounts']} account(s) and "
            f"{counts['portfolios']} portfolio(s). Remove them first or delete with "
            f"detach=true.{with_benefits}",
            entity_type="Segment",
            values={**counts, "benefits": benefits},
        )
    now = timezone.now()
    # The segment is held: whoever else locks one of its members and then waits for more
    # holds it first (segments.locking), so one statement per table detaches them all.
    members_changed(segment, cause="delete", removed=_detach_members(segment, now))
    before = snapshot(segment) | {"detached": counts}
    if benefits:
        before["benefitsDeleted"] = delete_benefits_of(segment, now=now)
    before |= _delete_rule_of(segment)
    soft_delete(segment, now=now)
    record(segment, actor, HistoryAction.DELETED, before, None)
    emit_entity(segment, "deleted")
    return counts


def _delete_rule_of(segment: Segment) -> dict[str, Any]:
    """A deleted segment's rule goes with it (its priority is free again): ``ruleDeleted``
    for the history, or nothing for a manual segment."""
    rule = SegmentRule.objects.filter(segment_id=segment.pk)
    state = rule.values("expression", "subject", "priority", "version").first()
    if state is None:
        return {}
    rule.delete()
    return {"ruleDeleted": state}


def _detach_members(segment: Segment, now) -> dict[str, list[str]]:
    return {
        "portfolios": _detach(Portfolio, segment, now),
        "accounts": _detach(Account, segment, now),
    }


def _detach(model: type[Account | Portfolio], segment: Segment, now) -> list[str]:
    """Take every row of ``model`` (deleted ones too) out of the segment (held: nothing
    joins it meanwhile), in one statement; returns the ids of the live ones that left."""
    rows = model.all_objects.filter(segment_id=segment.pk)
    live = [str(pk) for pk in rows.filter(deleted_at__isnull=True).values_list("pk", flat=True)]
    rows.update(segment=None, segment_assigned_by=None, updated_at=now)
    return live


@atomic_service
def restore_segment(actor, segment: Segment) -> Segment:
    """Bring a deleted segment back, if its name is still free in its scope (0015) and its
    ledger and organization are live. Members detached at delete stay detached."""
    segment = Segment.all_objects.select_for_update().get(pk=segment.pk)
    if segment.deleted_at is None:
        return segment
    hold_parent(Organization, segment.organization_id)
    if not segment.is_organization_level:
        hold_parent(Ledger, segment.ledger_id)
    segment.deleted_at = None
    segment.updated_at = timezone.now()
    save(segment, create=False)
    record(segment, actor, HistoryAction.RESTORED, None, snapshot(segment))
    emit_entity(segment, "updated")
    return segment
