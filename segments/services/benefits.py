"""Benefits: what a segment grants its members, typed and versioned.

Rules (``shared/spec/benefits.md``):

- ``parameters`` are what the ``kind`` takes (``benefit_kinds.validate_parameters``:
  0053 for a key it does not have, 0047 for any other broken rule, naming
  ``parameters.<key>``);
- the window is half-open, ``[valid_from, valid_until)``, either end open; an empty one
  (``valid_until`` not after ``valid_from``) is 0047;
- a name is unique, case-insensitively, among the segment's live benefits (9013, the
  database's constraint);
- two ACTIVE benefits of a segment in the same exclusivity group with the same priority
  and overlapping windows are ambiguous: the write that would make them so is refused
  (9012, naming the other). Every write of a segment's benefits holds the segment's lock
  first (``segments.locking`` order), so two concurrent writes cannot both pass the check;
- every change of a versioned field (``models.benefits.VERSIONED_FIELDS``) is a new
  version, kept as a ``BenefitVersion`` with who and when; the segment's history says
  what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from segments import errors, locking
from segments.benefit_kinds import validate_parameters
from segments.locking import atomic_service
from segments.models import Benefit, BenefitVersion, HistoryAction, Segment, Status
from segments.models.benefits import DEFAULT_PRIORITY, VERSIONED_FIELDS
from segments.services.events import emit_entity
from segments.services.history import actor_name, record
from segments.services.rows import lock_for_update, soft_delete
from segments.services.validation import (
    check_if_match,
    new_entity,
    refuse_unknown_changes,
    save_changes,
    validate_and_insert,
)


def benefit_snapshot(benefit: Benefit) -> dict[str, Any]:
    """A benefit as the segment's history shows it."""
    return {
        "benefitId": str(benefit.pk),
        "name": benefit.name,
        "kind": benefit.kind,
        "version": benefit.version,
        "parameters": dict(benefit.parameters or {}),
        "validFrom": benefit.valid_from.isoformat() if benefit.valid_from else None,
        "validUntil": benefit.valid_until.isoformat() if benefit.valid_until else None,
        "status": {"code": benefit.status_code, "description": benefit.status_description},
        "priority": benefit.priority,
        "exclusivityGroup": benefit.exclusivity_group,
    }


def _identity(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What every history entry of a benefit names: which one, and its kind."""
    return {key: snapshot[key] for key in ("benefitId", "name", "kind")}


def _hold_segment(segment: Segment) -> Segment:
    """The segment, locked: every write of its benefits is one at a time. A deleted
    segment takes no benefit (0007)."""
    locked = locking.lock_segments([segment.pk], organization_id=segment.organization_id)
    held = locked.get(segment.pk)
    if held is None or held.deleted_at is not None:
        raise errors.EntityNotFound("The segment was not found.", entity_type="Segment")
    return held


def _check_window(benefit: Benefit) -> None:
    start, end = benefit.valid_from, benefit.valid_until
    if start is not None and end is not None and end <= start:
        raise errors.InvalidField(
            "validUntil must be after validFrom (the window is [validFrom, validUntil)).",
            entity_type="Benefit",
            fields={"valid_until": "must be after validFrom"},
        )


def _overlapping(benefit: Benefit) -> Q:
    """Windows that share an instant with the benefit's (``[from, until)``, open ends)."""
    overlap = Q()
    if benefit.valid_until is not None:
        overlap &= Q(valid_from__isnull=True) | Q(valid_from__lt=benefit.valid_until)
    if benefit.valid_from is not None:
        overlap &= Q(valid_until__isnull=True) | Q(valid_until__gt=benefit.valid_from)
    return overlap


def refuse_ambiguity(benefit: Benefit) -> None:
    """9012 when another live ACTIVE benefit of the segment has the benefit's exclusivity
    group and priority and an overlapping window, while the benefit is ACTIVE itself.
    Call with the segment held (``_hold_segment``)."""
    if benefit.status_code != Status.ACTIVE or not benefit.exclusivity_group:
        return
    rival = (
        Benefit.objects.filter(
            _overlapping(benefit),
            segment_id=benefit.segment_id,
            status_code=Status.ACTIVE,
            exclusivity_group=benefit.exclusivity_group,
            priority=benefit.priority,
        )
        .exclude(pk=benefit.pk)
        .order_by("created_at", "id")
        .first()
    )
    if rival is not None:
        raise errors.AmbiguousBenefits(
            f"Benefit '{rival.name}' ({rival.pk}) is also ACTIVE in exclusivity group "
            f"'{benefit.exclusivity_group}' with priority {benefit.priority} and an "
            "overlapping validity window: give one another priority, group or window.",
            entity_type="Benefit",
            fields={"exclusivity_group": f"ambiguous with benefit {rival.pk}"},
            values={"exclusivity_group": str(rival.pk)},
        )


def _check_rules(benefit: Benefit) -> None:
    benefit.parameters = validate_parameters(benefit.kind, benefit.parameters)
    _check_window(benefit)
    refuse_ambiguity(benefit)


def _apply_versioned(benefit: Benefit, changes: Mapping[str, Any]) -> None:
    """Set the versioned fields that ``changes`` names: a status without a code keeps the
    code; a null priority is the default one."""
    for name in VERSIONED_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        if name == "status_code" and value is None:
            continue
        if name == "priority" and value is None:
            value = DEFAULT_PRIORITY
        setattr(benefit, name, value)


def _keep_version(benefit: Benefit, actor) -> BenefitVersion:
    return BenefitVersion.objects.create(
        benefit=benefit,
        version=benefit.version,
        **{name: getattr(benefit, name) for name in VERSIONED_FIELDS},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name(actor),
        created_at=benefit.updated_at,
    )


@atomic_service
def create_benefit(actor, segment: Segment, **fields: Any) -> Benefit:
    """A new benefit of ``segment`` (ledger- or organization-level), at version 1."""
    segment = _hold_segment(segment)
    if fields.get("priority", DEFAULT_PRIORITY) is None:
        fields = {**fields, "priority": DEFAULT_PRIORITY}
    benefit = new_entity(
        Benefit,
        fields,
        organization_id=segment.organization_id,
        ledger_id=segment.ledger_id,
        segment=segment,
    )
    _check_rules(benefit)
    validate_and_insert(benefit)
    _keep_version(benefit, actor)
    record(segment, actor, HistoryAction.BENEFIT_CREATED, None, benefit_snapshot(benefit))
    emit_entity(benefit, "created")
    return benefit


# create_benefit's ending and update_benefit's signature are alike in shape to those of
# the other entities' services (services/segments.py, ledgers.py, portfolios.py); kept
# apart because every entity's create and update have the one signature the API, console
# and admin call, and what each does before emitting is its own entity's rules.
@atomic_service
def update_benefit(
    actor, benefit: Benefit, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Benefit:
    """Change a benefit. A change of a versioned field makes the next version; a change of
    its name, description or metadata alone does not."""
    refuse_unknown_changes(Benefit, changes)
    segment = _hold_segment(benefit.segment)
    benefit = lock_for_update(benefit)
    before = benefit_snapshot(benefit)
    versioned = {name: getattr(benefit, name) for name in VERSIONED_FIELDS}
    _apply_versioned(benefit, changes)
    _check_rules(benefit)
    new_version = any(getattr(benefit, name) != versioned[name] for name in VERSIONED_FIELDS)
    if new_version:
        benefit.version += 1
    benefit = save_changes(benefit, changes, if_match, handled=VERSIONED_FIELDS)
    if new_version:
        _keep_version(benefit, actor)
    after = benefit_snapshot(benefit)
    changed = [key for key in after if before[key] != after[key]]
    if changed:
        record(
            segment,
            actor,
            HistoryAction.BENEFIT_UPDATED,
            {**_identity(before), **{key: before[key] for key in changed}},
            {**_identity(after), **{key: after[key] for key in changed}},
        )
    emit_entity(benefit, "updated")
    return benefit


@atomic_service
def delete_benefit(actor, benefit: Benefit, *, if_match: str | None = None) -> None:
    """Soft delete: the benefit stops applying and leaves every list; its versions stay."""
    segment = _hold_segment(benefit.segment)
    benefit = lock_for_update(benefit)
    check_if_match(benefit, if_match)
    soft_delete(benefit)
    record(segment, actor, HistoryAction.BENEFIT_DELETED, benefit_snapshot(benefit), None)
    emit_entity(benefit, "deleted")


def delete_benefits_of(segment: Segment, *, now) -> int:
    """Within a segment's delete (its transaction, the segment held): every live benefit
    of the segment is deleted with it, in one statement, each with its ``benefit.deleted``
    event. Returns how many."""
    benefits = list(Benefit.objects.filter(segment_id=segment.pk).order_by("pk"))
    Benefit.objects.filter(pk__in=[b.pk for b in benefits]).update(deleted_at=now, updated_at=now)
    for benefit in benefits:
        benefit.deleted_at = benefit.updated_at = now
        emit_entity(benefit, "deleted")
    return len(benefits)
