"""The evaluation of dynamic segments' rules: which members a scope's rules take
(``apply_rules``), and the on-write evaluation of one account or portfolio
(``apply_rules_to``).

The rules:

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
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
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

from segments.models import (
    Account,
    AssignedBy,
    Entity,
    HistoryAction,
    Ledger,
    Portfolio,
    RuleSubject,
    SegmentRule,
    Status,
)
from segments.rules import Rule, parse_rule, rule_q
from segments.services.history import record_membership

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


ScopeRule = tuple[Any, Any, Rule]  # (segment id, its ledger id or None, the rule)


def scope_rules(ledger: Ledger, subject: str) -> list[ScopeRule]:
    """Every rule about ``subject`` that covers ``ledger`` (its own and its
    organization's), of live ACTIVE segments, lowest priority first."""
    return organization_rules(ledger.organization_id, subject, ledger_id=ledger.pk)


def organization_rules(organization_id: Any, subject: str, *, ledger_id: Any = None):
    """``scope_rules`` of every ledger of the organization (only ``ledger_id``'s and the
    organization's when given): ``(segment id, ledger id or None, rule)``."""
    rows = SegmentRule.objects.filter(
        organization_id=organization_id,
        subject=subject,
        segment__deleted_at__isnull=True,
        segment__status_code=Status.ACTIVE,
    )
    if ledger_id is not None:
        rows = rows.filter(Q(ledger_id=ledger_id) | Q(ledger_id__isnull=True))
    return [
        (segment_id, rule_ledger, checked(expression, subject))
        for segment_id, rule_ledger, expression in rows.order_by("priority").values_list(
            "segment_id", "ledger_id", "expression"
        )
    ]


def _target(rules: list[ScopeRule], now: Any, *, guard_ledgers: bool) -> Case:
    """The segment the rules give a row: the first that matches in priority order (a
    ledger's rule only for that ledger's rows when ``guard_ledgers``)."""
    whens = []
    for segment_id, ledger_id, rule in rules:
        condition = rule_q(rule, now)
        if guard_ledgers and ledger_id is not None:
            condition = Q(ledger_id=ledger_id) & condition
        whens.append(When(condition, then=Value(segment_id)))
    return Case(*whens, default=Value(None), output_field=UUIDField())


def apply_rules(
    ledger: Ledger,
    subjects: QuerySet[Account] | QuerySet[Portfolio],
    *,
    rules: list[ScopeRule] | None = None,
    actor: Any = None,
) -> Moves:
    """Evaluate the rules of ``ledger``'s scope for ``subjects`` (accounts or portfolios
    of that ledger) and move the movable ones whose segment changes; returns the moves
    (``by_row``: each moved row's new segment id, or None)."""
    subject = RuleSubject.ACCOUNT if subjects.model is Account else RuleSubject.PORTFOLIO
    rules = scope_rules(ledger, subject) if rules is None else rules
    candidates = subjects.filter(ledger_id=ledger.pk)
    return _evaluate(candidates, rules, actor, guard_ledgers=False)


def apply_organization_rules(
    organization_id: Any, subjects: QuerySet[Account] | QuerySet[Portfolio], *, actor: Any = None
) -> Moves:
    """``apply_rules`` for rows of any ledger of the organization at once (each row under
    its own ledger's rules and the organization's)."""
    subject = RuleSubject.ACCOUNT if subjects.model is Account else RuleSubject.PORTFOLIO
    rules = organization_rules(organization_id, subject)
    candidates = subjects.filter(organization_id=organization_id)
    return _evaluate(candidates, rules, actor, guard_ledgers=True)


def _changed_query(candidates: QuerySet, rules: list[ScopeRule], *, guard_ledgers: bool):
    """ONE ``SELECT … FOR UPDATE``: the movable candidates whose segment the rules change,
    as ``(id, segment now, segment of the rules)``; ``now`` is the database's clock."""
    candidates = candidates.filter(MOVABLE).live()
    if rules:
        target = _target(rules, None, guard_ledgers=guard_ledgers)
    else:  # nothing to join: only the rule members leave
        candidates = candidates.filter(segment_assigned_by=AssignedBy.RULE)
        target = Value(None, output_field=UUIDField())
    return (
        candidates.annotate(rule_segment=target)
        .filter(_DistinctFrom(F("segment_id"), F("rule_segment")))
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", "segment_id", "rule_segment")
    )


def _evaluate(candidates: QuerySet, rules: list[ScopeRule], actor: Any, *, guard_ledgers: bool):
    changed = list(_changed_query(candidates, rules, guard_ledgers=guard_ledgers))
    return _apply_changes(candidates.model, changed, actor)


def _apply_changes(model: type[Entity], changed: list[tuple], actor: Any) -> Moves:
    now = timezone.now()
    moves = Moves(by_row={pk: new for pk, _, new in changed}, moved_at=now)
    if changed:
        _move(model, changed, now)
        _record(model, changed, actor, moves)
    return moves


# Stand-ins for the row and its ledger in the one-row statement compiled once per rule set.
_ROW, _LEDGER = uuid.UUID(int=1), uuid.UUID(int=2)


@functools.lru_cache(maxsize=1024)
def _one_row_statement(model: type[Entity], subject: str, key: tuple) -> tuple[str, str]:
    """The one-row evaluation of this rule set as SQL text with every constant bound (by
    the driver's own quoting) but the row and its ledger, left as ``%s`` (and which comes
    first): a call then passes two parameters, not hundreds."""
    rules = [(segment_id, ledger_id, checked(text, subject)) for segment_id, ledger_id, text in key]
    one = model.objects.filter(pk=_ROW, ledger_id=_LEDGER)
    sql, params = _changed_query(one, rules, guard_ledgers=False).query.sql_with_params()
    with connection.cursor() as cursor:
        text = cursor.mogrify(sql, params)
        row, ledger = (cursor.mogrify("%s", [stand_in]) for stand_in in (_ROW, _LEDGER))
    text = text.decode() if isinstance(text, bytes) else text
    row = row.decode() if isinstance(row, bytes) else row
    ledger = ledger.decode() if isinstance(ledger, bytes) else ledger
    assert text.count(row) == text.count(ledger) == 1
    first = "row" if text.index(row) < text.index(ledger) else "ledger"
    return first, text.replace("%", "%%").replace(row, "%s").replace(ledger, "%s")


def _evaluate_one(member: Account | Portfolio, rules: list[ScopeRule], actor: Any) -> Moves:
    """``apply_rules`` for one member, its statement compiled once per process and rule set
    (PostgreSQL; the ORM elsewhere) — a write costs the same with one rule or fifty."""
    model = type(member)
    if connection.vendor != "postgresql":
        ledger = Ledger(pk=member.ledger_id, organization_id=member.organization_id)
        return apply_rules(ledger, model.objects.filter(pk=member.pk), rules=rules, actor=actor)
    subject = RuleSubject.ACCOUNT if model is Account else RuleSubject.PORTFOLIO
    key = tuple((segment_id, ledger_id, rule.text) for segment_id, ledger_id, rule in rules)
    first, sql = _one_row_statement(model, subject, key)
    params = [member.pk, member.ledger_id] if first == "row" else [member.ledger_id, member.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = cursor.fetchall()
    return _apply_changes(model, changed, actor)


def _move(model: type[Entity], changed: list[tuple], now: Any) -> None:
    """ONE ``UPDATE`` of the rows (locked) to the segments the evaluation chose: on
    PostgreSQL from two arrays (ids, segments) joined by ``unnest``, whatever the count."""
    if connection.vendor == "postgresql":
        table, ids = connection.ops.quote_name(model._meta.db_table), [pk for pk, _, _ in changed]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET segment_id = m.segment_id, segment_assigned_by = "
                "CASE WHEN m.segment_id IS NULL THEN NULL ELSE %s END, updated_at = %s "
                "FROM unnest(%s::uuid[], %s::uuid[]) AS m(id, segment_id) "
                "WHERE t.id = m.id AND t.id = ANY(%s::uuid[])",
                [AssignedBy.RULE, now, ids, [new for _, _, new in changed], ids],
            )
        return
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
    moves = _evaluate_one(member, rules, actor)
    if member.pk in moves.by_row:
        member.segment_id = moves.by_row[member.pk]
        member.segment_assigned_by = None if member.segment_id is None else AssignedBy.RULE
        member.updated_at = moves.moved_at


def _apply_to_accounts_of(ledger: Ledger, portfolio: Portfolio, actor: Any) -> None:
    rules = scope_rules(ledger, RuleSubject.ACCOUNT)
    if any(name.startswith("portfolio.") for _, _, rule in rules for name in rule.fields_used):
        accounts = Account.objects.filter(portfolio_id=portfolio.pk)
        apply_rules(ledger, accounts, rules=rules, actor=actor)


def apply_rules_to_unpinned(
    model: type[Account] | type[Portfolio], ids: list[Any], actor: Any = None
) -> None:
    """Members just taken out of a segment by hand (unpinned, locked by the caller): the
    rules of their scope may take them now, in the same transaction. One query when no
    rule covers them."""
    if not ids:
        return
    subject = RuleSubject.ACCOUNT if model is Account else RuleSubject.PORTFOLIO
    rows = model.objects.filter(pk__in=ids)
    ledger_ids = rows.order_by("ledger_id").values_list("ledger_id", flat=True).distinct()
    organization_ids = rows.values("organization_id")
    ruled = SegmentRule.objects.filter(
        Q(ledger_id__in=ledger_ids) | Q(ledger_id__isnull=True),
        organization_id__in=organization_ids,
        subject=subject,
    )
    if not ruled.exists():
        return
    for ledger in Ledger.all_objects.filter(pk__in=ledger_ids).order_by("pk"):
        apply_rules(ledger, rows.filter(ledger_id=ledger.pk), actor=actor)
