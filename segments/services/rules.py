"""A dynamic segment's rule: ``put_rule`` and ``delete_rule``.

The rules:

- A rule is parsed and checked (``segments.rules.parse_rule``, 400 ``0047``) before any
  SQL runs: a refused rule changes nothing. Its ``priority`` is unique among the rules of
  the organization (409 ``9011``); each change adds one to its ``version``, is an entry in
  the segment's history and a ``segment.rule.updated`` event, and enqueues the refresh of
  its scope (``services.refresh``) in the same transaction.
- Removing the rule keeps its members, pinned as manual members (``keep_members``), or
  takes them out of the segment (other rules may take them, at the refresh that follows).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from segments import errors
from segments.locking import atomic_service
from segments.models import (
    Account,
    AssignedBy,
    HistoryAction,
    Portfolio,
    RefreshCause,
    RuleRefresh,
    Segment,
    SegmentRule,
)
from segments.rules import parse_rule
from segments.services.events import emit
from segments.services.history import actor_name, record, record_membership
from segments.services.refresh import enqueue_refresh
from segments.services.rows import lock_for_update
from segments.services.validation import CONSTRAINT_ERRORS

RULE_UPDATED = "segment.rule.updated"


# --------------------------------------------------------------------------- a segment's rule


def rule_snapshot(rule: SegmentRule) -> dict[str, Any]:
    return {
        "expression": rule.expression,
        "subject": rule.subject,
        "priority": rule.priority,
        "version": rule.version,
    }


def _checked_priority(priority: Any) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority < 2**31:
        message = "The priority must be a whole number from 0 to 2147483647."
        raise errors.InvalidField(message, entity_type="Segment", fields={"priority": message})
    return priority


@atomic_service
def put_rule(actor, segment: Segment, expression: Any, subject: Any, priority: Any) -> SegmentRule:
    """Make ``segment`` dynamic with this rule, or change its rule (``version`` + 1); the
    same rule again changes nothing. Checked first (0047, nothing written, no SQL); a
    priority another rule of the organization has → 409 ``9011``. The refresh of its scope
    is enqueued in the same transaction (``rule.refresh``; the latest one when unchanged)."""
    parsed = parse_rule(expression, subject)
    priority = _checked_priority(priority)
    segment = lock_for_update(segment)
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first()
    before = rule_snapshot(rule) if rule else None
    wanted = {"expression": parsed.text, "subject": parsed.subject.value, "priority": priority}
    if before and all(before[key] == value for key, value in wanted.items()):
        rule.refresh = RuleRefresh.objects.filter(segment_id=segment.pk).first()
        return rule
    if rule is None:
        rule = SegmentRule(
            segment=segment, organization_id=segment.organization_id, ledger_id=segment.ledger_id
        )
    rule.version = (rule.version + 1) if before else 1
    for name, value in wanted.items():
        setattr(rule, name, value)
    rule.fields_used, rule.time_dependent = list(parsed.fields_used), parsed.time_dependent
    rule.actor = actor if getattr(actor, "is_authenticated", False) else None
    rule.actor_name, rule.updated_at = actor_name(actor), timezone.now()
    _save_rule(rule)
    record(segment, actor, HistoryAction.RULE_UPDATED, before, rule_snapshot(rule))
    _rule_event(segment, rule_snapshot(rule), rule.updated_at)
    subjects = {rule.subject, before["subject"]} if before else {rule.subject}
    rule.refresh = _refresh(actor, segment, subjects)
    return rule


def _save_rule(rule: SegmentRule) -> None:
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        error_class, message = CONSTRAINT_ERRORS["segment_rule_priority_unique_per_organization"]
        if "segment_rule_priority_unique_per_organization" not in str(exc) and (
            "segments_segmentrule.priority" not in str(exc)
        ):
            raise
        raise error_class(message, entity_type="Segment", fields={"priority": message}) from None


def _refresh(actor: Any, segment: Segment, subjects: set[str]) -> RuleRefresh:
    scope = (segment.organization_id, segment.ledger_id)
    return enqueue_refresh(actor, *scope, subjects, cause=RefreshCause.RULE, segment=segment)


def _rule_event(segment: Segment, rule: dict[str, Any] | None, time: Any) -> None:
    """``segment.rule.updated``: the rule as it is now (null once removed)."""
    data = {"segmentId": str(segment.pk), "rule": rule}
    emit(segment.organization_id, RULE_UPDATED, segment.pk, time, data)


@atomic_service
def delete_rule(actor, segment: Segment, *, keep_members: bool) -> dict[str, int]:
    """Make a dynamic segment manual again (0007 when it is not dynamic). ``keep_members``:
    the rule's members stay, pinned as manual members; else they leave the segment (and
    other rules may take them, at the refresh after the commit). Returns the counts of
    rule members kept or removed."""
    segment = lock_for_update(segment)
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first()
    if rule is None:
        raise errors.EntityNotFound("The segment has no rule.", entity_type="Segment")
    members = {
        model: list(
            model.objects.filter(segment_id=segment.pk, segment_assigned_by=AssignedBy.RULE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for model in (Account, Portfolio)
    }
    now = timezone.now()
    for model, ids in members.items():
        if ids:
            changes = {"segment_assigned_by": AssignedBy.MANUAL}
            if not keep_members:
                changes = {"segment_id": None, "segment_assigned_by": None}
            model.objects.filter(pk__in=ids).update(**changes, updated_at=now)
    if not keep_members:
        record_membership(
            segment.pk,
            actor,
            HistoryAction.MEMBERS_REMOVED,
            members[Account],
            members[Portfolio],
            cause="rule",
        )
        _refresh(actor, segment, {rule.subject})
    counts = {"accounts": len(members[Account]), "portfolios": len(members[Portfolio])}
    after = {"keepMembers": keep_members, **counts}
    record(segment, actor, HistoryAction.RULE_DELETED, rule_snapshot(rule), after)
    _rule_event(segment, None, now)
    rule.delete()
    return counts
