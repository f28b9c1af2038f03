"""Dynamic segments: a segment's rule (``put_rule``, ``delete_rule``) and the evaluation
that makes the rules' members (``apply_rules``, ``apply_rules_to``, ``refresh_scope``).

The rules:

- A rule is parsed and checked (``segments.rules.parse_rule``, 400 ``0047``) before any
  SQL runs: a refused rule changes nothing. Its ``priority`` is unique among the rules of
  the organization (409 ``9011``); each change adds one to its ``version`` and is an entry
  in the segment's history.
- A member assigned by hand is pinned (``segment_assigned_by = 'manual'``): no rule moves
  it. The others — unassigned, or put in their segment by a rule — go to the
  lowest-priority rule of their scope (their ledger's rules and their organization's) that
  matches them, or leave their rule's segment when none does. Only live, ACTIVE segments'
  rules take members.
- The evaluation is ONE ``SELECT … FOR UPDATE`` whose ``CASE WHEN rule1 THEN s1 WHEN rule2
  THEN s2 … END`` (priority order) names each candidate's segment and keeps only the rows
  whose segment changes (``IS DISTINCT FROM``), then ONE ``UPDATE`` of those rows; the
  member counters follow by their triggers (``segments.counters``). Arrivals and
  departures are in the segments' history with their events (cause ``rule``), as counts.
- Every service write to an account or portfolio calls ``apply_rules_to`` for it in its
  transaction, after the write, so the answer already shows its segment.
- A rule change refreshes its scope when its transaction commits (``refresh_scope``): in
  keyset batches of ``REFRESH_BATCH`` ids, one transaction each, two refreshes of one
  ledger never at once (a PostgreSQL advisory lock held across the batches).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    F,
    Q,
    QuerySet,
    UUIDField,
    Value,
    When,
)
from django.utils import timezone

from segments import errors
from segments.locking import atomic_service
from segments.models import (
    Account,
    AssignedBy,
    Entity,
    HistoryAction,
    Ledger,
    Portfolio,
    RuleSubject,
    Segment,
    SegmentRule,
    Status,
)
from segments.rules import Rule, parse_rule, rule_q
from segments.services.history import actor_name, record, record_membership
from segments.services.rows import lock_for_update
from segments.services.validation import CONSTRAINT_ERRORS

REFRESH_BATCH = 20_000
MODELS = {RuleSubject.ACCOUNT: Account, RuleSubject.PORTFOLIO: Portfolio}
# Who a rule may take: the unassigned and its own members (never a pinned one, nor one
# assigned before rules existed without being marked).
MOVABLE = Q(segment_assigned_by=AssignedBy.RULE) | Q(segment_id__isnull=True)


@dataclass
class Moves:
    """What an evaluation changed: rows scanned, rows that joined a segment, rows that
    left one (a move between two rule segments counts in both)."""

    scanned: int = 0
    added: int = 0
    removed: int = 0
    by_row: dict[Any, Any] = field(default_factory=dict)
    moved_at: Any = None

    def __iadd__(self, other: Moves) -> Moves:
        self.scanned += other.scanned
        self.added += other.added
        self.removed += other.removed
        return self


class _DistinctFrom(Expression):
    """``left IS DISTINCT FROM right`` (SQLite: ``IS NOT``): NULL-safe inequality."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, left: Any, right: Any) -> None:
        super().__init__()
        self.left, self.right = left, right

    def get_source_expressions(self) -> list[Any]:
        return [self.left, self.right]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        self.left, self.right = exprs

    def as_sql(self, compiler: Any, connection: Any, operator: str = "IS DISTINCT FROM"):
        left, left_params = compiler.compile(self.left)
        right, right_params = compiler.compile(self.right)
        return f"({left} {operator} {right})", [*left_params, *right_params]

    def as_sqlite(self, compiler: Any, connection: Any):
        return self.as_sql(compiler, connection, operator="IS NOT")


@functools.lru_cache(maxsize=4096)
def checked(expression: str, subject: str) -> Rule:
    """A stored rule, parsed once per process (the text was checked when it was saved)."""
    return parse_rule(expression, subject)


def scope_rules(ledger: Ledger, subject: str) -> list[tuple[Any, Rule]]:
    """``(segment id, rule)`` of every rule about ``subject`` that covers ``ledger`` (its
    own and its organization's), of live ACTIVE segments, lowest priority first."""
    rows = SegmentRule.objects.filter(
        Q(ledger_id=ledger.pk) | Q(ledger_id__isnull=True),
        organization_id=ledger.organization_id,
        subject=subject,
        segment__deleted_at__isnull=True,
        segment__status_code=Status.ACTIVE,
    ).order_by("priority")
    return [
        (segment_id, checked(expression, subject))
        for segment_id, expression in rows.values_list("segment_id", "expression")
    ]


def _target(rules: list[tuple[Any, Rule]], now: Any) -> Case:
    whens = [When(rule_q(rule, now), then=Value(segment_id)) for segment_id, rule in rules]
    return Case(*whens, default=Value(None), output_field=UUIDField())


def apply_rules(
    ledger: Ledger,
    subjects: QuerySet[Account] | QuerySet[Portfolio],
    *,
    rules: list[tuple[Any, Rule]] | None = None,
    actor: Any = None,
) -> Moves:
    """Evaluate the rules of ``ledger``'s scope for ``subjects`` (accounts or portfolios
    of that ledger) and move the movable ones whose segment changes; returns the moves
    (``by_row``: each moved row's new segment id, or None)."""
    model = subjects.model
    subject = RuleSubject.ACCOUNT if model is Account else RuleSubject.PORTFOLIO
    rules = scope_rules(ledger, subject) if rules is None else rules
    now = timezone.now()
    candidates = subjects.filter(MOVABLE, ledger_id=ledger.pk).live()
    if rules:
        target = _target(rules, now)
    else:  # nothing to join: only the rule members leave
        candidates = candidates.filter(segment_assigned_by=AssignedBy.RULE)
        target = Value(None, output_field=UUIDField())
    changed = list(
        candidates.annotate(rule_segment=target)
        .filter(_DistinctFrom(F("segment_id"), F("rule_segment")))
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", "segment_id", "rule_segment")
    )
    moves = Moves(by_row={pk: new for pk, _, new in changed}, moved_at=now)
    if changed:
        _move(model, changed, now)
        _record(model, changed, actor, moves)
    return moves


def _move(model: type[Entity], changed: list[tuple], now: Any) -> None:
    """ONE ``UPDATE`` of the rows (locked) to the segments the evaluation chose."""
    by_target: dict[Any, list] = {}
    for pk, _, new in changed:
        by_target.setdefault(new, []).append(pk)
    segment = Case(
        *[When(pk__in=ids, then=Value(new)) for new, ids in by_target.items()],
        default=Value(None),
        output_field=UUIDField(),
    )
    assigned_by = Case(
        When(pk__in=by_target.get(None, []), then=Value(None)), default=Value(AssignedBy.RULE)
    )
    model.objects.filter(pk__in=[pk for pk, _, _ in changed]).update(
        segment_id=segment, segment_assigned_by=assigned_by, updated_at=now
    )


def _record(model: type[Entity], changed: list[tuple], actor: Any, moves: Moves) -> None:
    """Departures then arrivals, one history entry (with its events) per segment."""
    kind = "account_ids" if model is Account else "portfolio_ids"
    left: dict[Any, list] = {}
    joined: dict[Any, list] = {}
    for pk, previous, new in changed:
        if previous is not None:
            left.setdefault(previous, []).append(pk)
        if new is not None:
            joined.setdefault(new, []).append(pk)
    for action, groups in (
        (HistoryAction.MEMBERS_REMOVED, left),
        (HistoryAction.MEMBERS_ASSIGNED, joined),
    ):
        for segment_id in sorted(groups, key=str):
            record_membership(segment_id, actor, action, **{kind: groups[segment_id]}, cause="rule")
    moves.removed += sum(len(ids) for ids in left.values())
    moves.added += sum(len(ids) for ids in joined.values())


def apply_rules_to(member: Account | Portfolio, actor: Any = None) -> None:
    """The on-write evaluation of one account or portfolio just written (locked), in the
    writer's transaction; sets its ``segment_id`` and ``segment_assigned_by`` to what the
    rules decided. A pinned member costs no query; one no rule can take, one. A portfolio
    also re-evaluates its accounts for the account rules that read ``portfolio.*``."""
    if member.segment_assigned_by == AssignedBy.MANUAL or member.deleted_at is not None:
        return
    ledger = Ledger(pk=member.ledger_id, organization_id=member.organization_id)
    subject = RuleSubject.ACCOUNT if isinstance(member, Account) else RuleSubject.PORTFOLIO
    rules = scope_rules(ledger, subject)
    if isinstance(member, Portfolio):
        _apply_to_accounts_of(ledger, member, actor)
    if not rules and member.segment_assigned_by != AssignedBy.RULE:
        return
    model = type(member)
    moves = apply_rules(ledger, model.objects.filter(pk=member.pk), rules=rules, actor=actor)
    if member.pk in moves.by_row:
        member.segment_id = moves.by_row[member.pk]
        member.segment_assigned_by = None if member.segment_id is None else AssignedBy.RULE
        member.updated_at = moves.moved_at


def _apply_to_accounts_of(ledger: Ledger, portfolio: Portfolio, actor: Any) -> None:
    rules = scope_rules(ledger, RuleSubject.ACCOUNT)
    if any(name.startswith("portfolio.") for _, rule in rules for name in rule.fields_used):
        accounts = Account.objects.filter(portfolio_id=portfolio.pk)
        apply_rules(ledger, accounts, rules=rules, actor=actor)


# --------------------------------------------------------------------------- refresh


@contextlib.contextmanager
def _scope_lock(ledger_id: Any) -> Iterator[None]:
    """One refresh of a ledger's members at a time (a session-level PostgreSQL advisory
    lock, held across the batches' transactions)."""
    if connection.vendor != "postgresql":
        yield
        return
    key = f"segments.rules:{ledger_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def refresh_scope(
    organization_id: Any,
    ledger_id: Any = None,
    subjects: Iterable[str] = tuple(RuleSubject.values),
    actor: Any = None,
) -> Moves:
    """Evaluate the rules of a scope (one ledger, or every ledger of the organization when
    ``ledger_id`` is None) over all its ``subjects``, in keyset batches of
    ``REFRESH_BATCH`` ids, one transaction each; writes only rows whose segment changes."""
    ledgers = Ledger.objects.filter(organization_id=organization_id)
    if ledger_id is not None:
        ledgers = ledgers.filter(pk=ledger_id)
    total = Moves()
    for ledger in ledgers.order_by("pk"):
        with _scope_lock(ledger.pk):
            for subject in subjects:
                total += _refresh_ledger(ledger, MODELS[subject], actor)
    return total


def _refresh_ledger(ledger: Ledger, model: type[Entity], actor: Any) -> Moves:
    total, after = Moves(), None
    while True:
        with transaction.atomic():
            ids = model.objects.filter(ledger_id=ledger.pk).order_by("pk")
            if after is not None:
                ids = ids.filter(pk__gt=after)
            batch = list(ids.values_list("pk", flat=True)[:REFRESH_BATCH])
            if not batch:
                return total
            rows = model.objects.filter(pk__gte=batch[0], pk__lte=batch[-1])
            moves = apply_rules(ledger, rows, actor=actor)
        moves.scanned, moves.by_row = len(batch), {}
        total += moves
        after = batch[-1]


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
    priority another rule of the organization has → 409 ``9011``. Its scope is refreshed
    when the transaction commits."""
    parsed = parse_rule(expression, subject)
    priority = _checked_priority(priority)
    segment = lock_for_update(segment)
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first()
    before = rule_snapshot(rule) if rule else None
    wanted = {"expression": parsed.text, "subject": parsed.subject.value, "priority": priority}
    if before and all(before[key] == value for key, value in wanted.items()):
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
    subjects = {rule.subject, before["subject"]} if before else {rule.subject}
    _refresh_on_commit(segment, sorted(subjects), actor)
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


def _refresh_on_commit(segment: Segment, subjects: list[str], actor: Any) -> None:
    """The scope's refresh, after the commit (batches need their own transactions)."""
    scope = (segment.organization_id, segment.ledger_id)
    transaction.on_commit(
        functools.partial(refresh_scope, *scope, subjects=subjects, actor=actor), robust=True
    )


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
        _refresh_on_commit(segment, [rule.subject], actor)
    counts = {"accounts": len(members[Account]), "portfolios": len(members[Portfolio])}
    after = {"keepMembers": keep_members, **counts}
    record(segment, actor, HistoryAction.RULE_DELETED, rule_snapshot(rule), after)
    rule.delete()
    return counts
