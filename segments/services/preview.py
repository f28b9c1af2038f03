"""What a rule would do before it is saved (``preview_rule``): exact counts of what it
matches in a scope and of what saving it would change, read-only.

The rules:

- The rule is checked first (``segments.rules.parse_rule``: 400 ``0047`` naming the
  position and the token): a refused rule runs no SQL. A ``segmentId`` names a live
  segment of the path's own level (a ledger's segment on the ledger path, an
  organization's on the organization path), else 404 ``0036``.
- The scope is the path's: the live accounts (or portfolios) of one ledger, where that
  ledger's rules and its organization's compete, or of every ledger of the organization,
  where a ledger's rule competes only for its own ledger's rows. The competing rules are
  those of the other live ACTIVE dynamic segments, about the same subject.
- ``matchCount``: the rows the rule matches; ``pinnedExcluded``: the matches the rule
  would not take because they are pinned (assigned by hand: not ``MOVABLE``).
- The rule ranks by ``priority``, else by its segment's current priority, else first. A
  movable match that a competing rule with a lower number also matches goes to that rule
  (a competitor with the same number ranks after it here; saving it would be 409 ``9011``).
- ``wouldAdd``: the movable matches the rule wins that are not already its segment's
  rule members (without ``segmentId``: every movable match it wins); ``wouldRemove``: the
  segment's current rule members it does not win (0 without ``segmentId``).
- ``conflicts``: each competing segment whose rule also matches some of the movable
  matches, with how many (``overlapCount``), lowest priority first: those whose number is
  lower than the rule's take them, the others lose them to it.
- Exact, never sampled: ONE aggregate ``SELECT COUNT(*) FILTER (WHERE …), …`` over the
  scope and ONE ``SELECT … LIMIT 20`` for the sample; no other row reaches Python.
- On PostgreSQL both run under ``SET LOCAL statement_timeout`` =
  ``SEGMENTS_PREVIEW_TIMEOUT_MS``. Past it, the same preview is enqueued as the task
  ``run_preview`` (no time limit) and the caller gets the job's ``{id, status}``;
  ``preview_job`` reads it back, for the same organization and path level only.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.models import Count, Q
from django.tasks import TaskResultStatus, task
from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
from django.utils import timezone

from segments import errors
from segments.models import (
    Account,
    AssignedBy,
    Ledger,
    Organization,
    Portfolio,
    RuleSubject,
    Segment,
    SegmentRule,
    Status,
)
from segments.rules import Rule, outside_rule_q, parse_rule, rule_q
from segments.services.evaluation import MOVABLE, checked

SAMPLE_SIZE = 20
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement past statement_timeout
MODELS = {RuleSubject.ACCOUNT: Account, RuleSubject.PORTFOLIO: Portfolio}
# In a segment, but not by a rule: assigned by hand (or before rules existed).
PINNED = Q(segment_id__isnull=False) & ~Q(segment_assigned_by=AssignedBy.RULE)
JOB_STATUSES = {
    TaskResultStatus.READY: "queued",
    TaskResultStatus.RUNNING: "running",
    TaskResultStatus.SUCCESSFUL: "done",
    TaskResultStatus.FAILED: "failed",
}


class PreviewTimedOut(Exception):
    """The preview's statement ran past ``SEGMENTS_PREVIEW_TIMEOUT_MS``."""


@dataclass(frozen=True)
class PreviewRequest:
    """What a preview asks, as JSON values (the arguments of its job)."""

    organization_id: str
    ledger_id: str | None
    expression: str
    subject: str
    segment_id: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class PreviewAnswer:
    """The preview (``result``) when it finished in time, else its job's ``{id, status}``."""

    result: dict[str, Any] | None = None
    job: dict[str, Any] | None = None


@dataclass(frozen=True)
class Competitor:
    """Another dynamic segment's rule that competes for the scope's rows."""

    segment_id: Any
    name: str
    priority: int
    ledger_id: Any  # None: an organization's rule, covering every ledger
    rule: Rule


def preview_rule(
    organization: Organization,
    ledger: Ledger | None,
    *,
    expression: Any,
    subject: Any,
    segment_id: Any = None,
    priority: int | None = None,
) -> PreviewAnswer:
    """The preview of a rule over the scope of ``ledger`` (the whole ``organization`` when
    None), or its job when it runs past ``SEGMENTS_PREVIEW_TIMEOUT_MS`` (the module's
    rules). Raises ``InvalidRule`` (0047) before any SQL, ``SegmentNotFound`` (0036)."""
    rule = parse_rule(expression, subject)
    request = PreviewRequest(
        organization_id=str(organization.pk),
        ledger_id=str(ledger.pk) if ledger is not None else None,
        expression=rule.text,
        subject=rule.subject.value,
        segment_id=str(segment_id) if segment_id is not None else None,
        priority=priority,
    )
    try:
        result = compute_preview(request, rule, settings.SEGMENTS_PREVIEW_TIMEOUT_MS)
    except PreviewTimedOut:
        return PreviewAnswer(job=job_status(run_preview.enqueue(**asdict(request))))
    return PreviewAnswer(result=result)


@task()
def run_preview(**request: Any) -> dict[str, Any]:
    """The task: the preview of a ``PreviewRequest``, without a time limit (its result is
    the job's return value)."""
    preview = PreviewRequest(**request)
    return compute_preview(preview, checked(preview.expression, preview.subject), None)


def compute_preview(
    request: PreviewRequest, rule: Rule, timeout_ms: int | None = None
) -> dict[str, Any]:
    """The preview's body (JSON values); ``PreviewTimedOut`` past ``timeout_ms`` (None:
    no limit) on PostgreSQL."""
    segment = _segment(request)
    rank = request.priority
    if rank is None and segment is not None and hasattr(segment, "rule"):
        rank = segment.rule.priority
    competitors = _competitors(request, rule.subject, segment)
    model = MODELS[rule.subject]
    scope = model.objects.filter(organization_id=request.organization_id)
    if request.ledger_id is not None:
        scope = scope.filter(ledger_id=request.ledger_id)
    counts = _Counts(rule, competitors, rank, segment, request.ledger_id is None)
    started = time.monotonic()
    with _time_limit(timeout_ms):
        totals = scope.filter(counts.rows).aggregate(**counts.aggregates())
        sample = list(
            scope.filter(counts.matched).order_by("pk").values_list("pk", "name")[:SAMPLE_SIZE]
        )
    elapsed = round((time.monotonic() - started) * 1000)
    return _body(rule, totals, sample, competitors, elapsed)


def _segment(request: PreviewRequest) -> Segment | None:
    if request.segment_id is None:
        return None
    segment = (
        Segment.objects.select_related("rule")
        .filter(
            pk=request.segment_id,
            organization_id=request.organization_id,
            ledger_id=request.ledger_id,
        )
        .first()
    )
    if segment is None:
        level = "ledger" if request.ledger_id else "organization"
        raise errors.SegmentNotFound(
            f"The segment was not found among this {level}'s segments.",
            entity_type="Segment",
            fields={"segmentId": "segment not found"},
        )
    return segment


def _competitors(
    request: PreviewRequest, subject: str, segment: Segment | None
) -> list[Competitor]:
    """The other dynamic segments' rules of the scope, lowest priority first (one query)."""
    rules = SegmentRule.objects.filter(
        organization_id=request.organization_id,
        subject=subject,
        segment__deleted_at__isnull=True,
        segment__status_code=Status.ACTIVE,
    )
    if request.ledger_id is not None:
        rules = rules.filter(Q(ledger_id=request.ledger_id) | Q(ledger_id__isnull=True))
    if segment is not None:
        rules = rules.exclude(segment_id=segment.pk)
    rows = rules.order_by("priority").values_list(
        "segment_id", "segment__name", "priority", "ledger_id", "expression"
    )
    return [
        Competitor(segment_id, name, priority, ledger_id, checked(expression, subject))
        for segment_id, name, priority, ledger_id, expression in rows
    ]


class _Counts:
    """The filters of the aggregate: what the rule matches, wins, takes and leaves."""

    def __init__(
        self,
        rule: Rule,
        competitors: list[Competitor],
        rank: int | None,
        segment: Segment | None,
        whole_organization: bool,
    ) -> None:
        self.now = timezone.now()
        self.rule, self.competitors, self.segment = rule, competitors, segment
        self.whole_organization = whole_organization
        self.lower = [c for c in competitors if rank is not None and c.priority < rank]
        self.matched = rule_q(rule, self.now)
        self.members = (
            Q(segment_id=segment.pk, segment_assigned_by=AssignedBy.RULE) if segment else None
        )

    @property
    def rows(self) -> Q:
        """The rows any count concerns: the matches and the segment's rule members."""
        return self.matched if self.members is None else self.matched | self.members

    def covers(self, competitor: Competitor) -> Q:
        if self.whole_organization and competitor.ledger_id is not None:
            return Q(ledger_id=competitor.ledger_id)
        return Q()

    def hits(self, competitor: Competitor) -> Q:
        """The rows the competitor's rule matches (where it applies)."""
        return self.covers(competitor) & rule_q(competitor.rule, self.now)

    def misses(self, competitor: Competitor) -> Q:
        """The rows the competitor's rule does not match, NULLs included."""
        missed = outside_rule_q(competitor.rule, self.now)
        covers = self.covers(competitor)
        return missed | ~covers if covers else missed

    def aggregates(self) -> dict[str, Count]:
        movable = self.matched & MOVABLE
        won = movable
        for competitor in self.lower:
            won &= self.misses(competitor)
        counts = {
            "matchCount": Count("pk", filter=self.matched),
            "pinnedExcluded": Count("pk", filter=self.matched & PINNED),
            "wouldAdd": Count("pk", filter=won if self.members is None else won & ~self.members),
        }
        if self.members is not None:
            lost = outside_rule_q(self.rule, self.now)
            for competitor in self.lower:
                lost |= self.hits(competitor)
            counts["wouldRemove"] = Count("pk", filter=self.members & lost)
        for index, competitor in enumerate(self.competitors):
            counts[f"overlap{index}"] = Count("pk", filter=movable & self.hits(competitor))
        return counts


def _body(
    rule: Rule,
    totals: dict[str, int],
    sample: list[tuple[Any, Any]],
    competitors: list[Competitor],
    elapsed_ms: int,
) -> dict[str, Any]:
    conflicts = [
        {
            "segmentId": str(competitor.segment_id),
            "name": competitor.name,
            "priority": competitor.priority,
            "overlapCount": totals[f"overlap{index}"],
        }
        for index, competitor in enumerate(competitors)
        if totals[f"overlap{index}"]
    ]
    return {
        "matchCount": totals["matchCount"],
        "sample": [{"id": str(pk), "name": name} for pk, name in sample],
        "wouldAdd": totals["wouldAdd"],
        "wouldRemove": totals.get("wouldRemove", 0),
        "pinnedExcluded": totals["pinnedExcluded"],
        "conflicts": conflicts,
        "timeDependent": rule.time_dependent,
        "elapsedMs": elapsed_ms,
    }


@contextlib.contextmanager
def _time_limit(timeout_ms: int | None) -> Iterator[None]:
    """The statements inside run with ``statement_timeout`` = ``timeout_ms`` (PostgreSQL;
    ``SET LOCAL`` in a transaction or savepoint of their own, the previous value put back
    after); ``PreviewTimedOut`` when one runs past it."""
    connection = connections[DEFAULT_DB_ALIAS]
    if timeout_ms is None or connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), "
                    "set_config('statement_timeout', %s, true)",
                    [f"{int(timeout_ms)}ms"],
                )
                previous = cursor.fetchone()[0]
            yield
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == QUERY_CANCELED:
            raise PreviewTimedOut from None
        raise


# --------------------------------------------------------------------------- the job


def job_status(result: Any) -> dict[str, str]:
    """``{id, status}`` of a preview job: ``queued``, ``running``, ``done`` or ``failed``."""
    return {"id": str(result.id), "status": JOB_STATUSES[result.status]}


def preview_job(organization: Organization, ledger: Ledger | None, job_id: Any) -> dict[str, Any]:
    """``{id, status, result}`` of the preview job ``job_id`` asked at this path (the
    organization and, on the ledger path, the ledger); ``result`` is null until it is
    done. Any other job, or another scope's, is 404 ``0007``."""
    try:
        result = run_preview.get_result(str(job_id))
    except (TaskResultDoesNotExist, TaskResultMismatch):
        result = None
    asked = (str(organization.pk), str(ledger.pk) if ledger is not None else None)
    if (
        result is None
        or (
            result.kwargs.get("organization_id"),
            result.kwargs.get("ledger_id"),
        )
        != asked
    ):
        raise errors.EntityNotFound(
            "No rule preview was found for the given ID.", entity_type="RulePreview"
        )
    done = result.status == TaskResultStatus.SUCCESSFUL
    return {**job_status(result), "result": result.return_value if done else None}
