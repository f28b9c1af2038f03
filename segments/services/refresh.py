"""Refreshes: the re-evaluation of a scope's rules over all its members, as a background
job of Django's tasks framework (``refresh_rules``, run by ``manage.py worker``).

The rules:

- ``enqueue_refresh`` writes the ``RuleRefresh`` and its task in the caller's transaction
  (the task backend is the database): a rule change that rolls back enqueues nothing, and
  one that commits always has its refresh.
- ``run_refresh`` evaluates the scope — a ledger, or the whole organization in one pass —
  accounts then portfolios, in id-order keyset batches of ``SEGMENTS_REFRESH_BATCH`` rows
  (neighbours on disk, as ids are time-ordered), ONE transaction each,
  writing only the rows whose segment changes (``services.evaluation.apply_rules``); the
  batch's transaction also adds its counts to the refresh and moves its cursor, so what
  the refresh says is what was committed. A large scope is cut into
  ``SEGMENTS_REFRESH_LANES`` id ranges of equal size (lanes) run side by side, each with
  its own place in the cursor: the lanes' rows never overlap and cover the scope.
- Two refreshes of one ledger never run at once: a refresh first takes a PostgreSQL
  advisory lock per ledger of its scope (id order, so two refreshes cannot wait for each
  other in a cycle) and holds them to its end; it is ``running`` only once it holds them.
- A running refresh also holds a lock of its own id. ``resume_interrupted`` (the worker's
  start, the schedule) enqueues again every unfinished refresh whose lock nobody holds —
  its worker died — and it resumes from its cursor. A refresh that is done does nothing.
- When it ends, a refresh that moved members is one ``membership_refreshed`` entry in its
  segment's history (who, rule version, added and removed counts) with its
  ``segment.membership.refreshed`` event; the moves themselves are in the history of the
  segments they left and joined, batch by batch.
- Time-dependent rules (they read ``now``) are refreshed by ``refresh_time_dependent``,
  which the worker runs every ``SEGMENTS_TIME_RULES_REFRESH_SECONDS``; a scope that already
  has a refresh waiting gets no second one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from segments import errors
from segments.models import (
    Account,
    HistoryAction,
    Ledger,
    Portfolio,
    RefreshCause,
    RefreshStatus,
    RuleRefresh,
    RuleSubject,
    Segment,
    SegmentRule,
    Status,
)
from segments.services.evaluation import apply_organization_rules, apply_rules
from segments.services.events import emit
from segments.services.history import actor_name, record
from segments.services.rows import lock_for_update

logger = logging.getLogger("segments.refresh")

MODELS = {RuleSubject.ACCOUNT: Account, RuleSubject.PORTFOLIO: Portfolio}
SUBJECT_ORDER = (RuleSubject.ACCOUNT.value, RuleSubject.PORTFOLIO.value)
UNFINISHED = (RefreshStatus.QUEUED, RefreshStatus.RUNNING)
BATCH_ATTEMPTS = 3
REFRESHED = "segment.membership.refreshed"


@task()
def refresh_rules(refresh_id: str) -> dict[str, Any]:
    """The task: run (or resume) the refresh ``refresh_id``."""
    return run_refresh(refresh_id)


def enqueue_refresh(
    actor: Any,
    organization_id: Any,
    ledger_id: Any = None,
    subjects: Iterable[str] = SUBJECT_ORDER,
    *,
    cause: str,
    segment: Segment | None = None,
) -> RuleRefresh:
    """A refresh of a ledger's rules (every ledger of the organization when ``ledger_id``
    is None) over ``subjects``, queued for the worker in the caller's transaction."""
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first() if segment else None
    refresh = RuleRefresh.objects.create(
        organization_id=organization_id,
        ledger_id=ledger_id,
        segment=segment,
        subjects=[subject for subject in SUBJECT_ORDER if subject in set(subjects)],
        cause=cause,
        rule_version=rule.version if rule else None,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name(actor),
    )
    _enqueue_task(refresh, refresh_rules)
    return refresh


def _enqueue_task(refresh: RuleRefresh, task: Any) -> None:
    result = task.enqueue(str(refresh.pk))
    RuleRefresh.objects.filter(pk=refresh.pk).update(task_id=result.id)
    refresh.task_id = result.id


def request_refresh(actor: Any, segment: Segment) -> RuleRefresh:
    """``POST S/refresh``: a refresh of a dynamic segment's scope (404 ``0007`` for a
    manual segment)."""
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first()
    if rule is None:
        raise errors.EntityNotFound(
            "The segment is manual: it has no rule to refresh.", entity_type="SegmentRule"
        )
    with transaction.atomic():
        return enqueue_refresh(
            actor,
            segment.organization_id,
            segment.ledger_id,
            [rule.subject],
            cause=RefreshCause.REQUESTED,
            segment=segment,
        )


# --------------------------------------------------------------------------- locks


def _lock_key(name: str) -> str:
    return f"segments.rules:{name}"


@contextlib.contextmanager
def _held(names: list[str]) -> Iterator[None]:
    """Session-level advisory locks of ``names``, taken in that order, released at the end
    (PostgreSQL only; elsewhere one process runs everything)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [_lock_key(name)])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in reversed(names):
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [_lock_key(name)])


def _nobody_holds(name: str) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_lock_key(name)])
        (free,) = cursor.fetchone()
        if free:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [_lock_key(name)])
    return free


# --------------------------------------------------------------------------- running


def run_refresh(refresh_id: Any) -> dict[str, Any]:
    """The worker's part: run (or resume from its cursor) one refresh; returns its counts."""
    with _held([f"refresh:{refresh_id}"]):
        refresh = RuleRefresh.objects.select_related("actor").get(pk=refresh_id)
        if refresh.status not in UNFINISHED:
            return _counts(refresh)
        ledger_ids = _ledger_ids(refresh)
        with _held([f"ledger:{pk}" for pk in ledger_ids]):
            _start(refresh)
            try:
                _refresh_scope(refresh)
            except Exception as exc:
                _fail(refresh, exc)
                raise
            _finish(refresh)
    return _counts(refresh)


# Alike in shape to rule_snapshot (services/rules.py); kept apart because this is a
# refresh's progress and that a rule's history snapshot: other objects, other keys.
def _counts(refresh: RuleRefresh) -> dict[str, Any]:
    return {
        "status": refresh.status,
        "scanned": refresh.scanned,
        "added": refresh.added,
        "removed": refresh.removed,
    }


def _ledger_ids(refresh: RuleRefresh) -> list[str]:
    ledgers = Ledger.all_objects.filter(organization_id=refresh.organization_id)
    if refresh.ledger_id is not None:
        ledgers = ledgers.filter(pk=refresh.ledger_id)
    return [str(pk) for pk in ledgers.order_by("pk").values_list("pk", flat=True)]


def _subjects_to_do(refresh: RuleRefresh) -> list[str]:
    """The refresh's subjects from its cursor's (included) on; all when it has none."""
    subjects, current = list(refresh.subjects), (refresh.cursor or {}).get("subject")
    return subjects[subjects.index(current) :] if current in subjects else subjects


def _start(refresh: RuleRefresh) -> None:
    now = timezone.now()
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        status=RefreshStatus.RUNNING, started_at=Coalesce(F("started_at"), now), error=""
    )
    refresh.status = RefreshStatus.RUNNING
    refresh.started_at = refresh.started_at or now


def _fail(refresh: RuleRefresh, exc: BaseException) -> None:
    logger.exception("refresh %s failed", refresh.pk)
    refresh.status, refresh.finished_at = RefreshStatus.FAILED, timezone.now()
    refresh.error = f"{type(exc).__name__}: {exc}"[:2000]
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        status=refresh.status, finished_at=refresh.finished_at, error=refresh.error
    )


def _refresh_scope(refresh: RuleRefresh) -> None:
    """Every subject of the refresh from its cursor on: a ledger's rows, or the whole
    organization's in one pass (each row under its ledger's rules and the organization's),
    so that a batch reads and writes neighbouring rows. A subject's rows are cut into
    lanes (``_lanes``) run side by side; the counts are re-read once all have ended."""
    cursor = refresh.cursor or {}
    for subject in _subjects_to_do(refresh):
        lanes = _lanes(refresh, subject, cursor if cursor.get("subject") == subject else {})
        _run_lanes(refresh, subject, lanes)
    refresh.refresh_from_db(fields=["scanned", "added", "removed", "cursor"])


def _scope_rows(refresh: RuleRefresh, subject: str) -> QuerySet:
    scope = {"organization_id": refresh.organization_id}
    if refresh.ledger_id is not None:
        scope = {"ledger_id": refresh.ledger_id}
    return MODELS[subject].all_objects.filter(**scope)


def _lanes(refresh: RuleRefresh, subject: str, cursor: dict) -> list[list[str | None]]:
    """The subject's lanes as ``[after, up to]`` id pairs (``None``: no bound; after
    ``"end"``: done), saved in the cursor before any runs so that a resumed refresh goes
    on in the same lanes. A cursor of one ``after`` (an earlier release's) is one lane. A
    new subject gets ``SEGMENTS_REFRESH_LANES`` lanes of equal row counts on PostgreSQL
    outside a transaction when it has at least a batch a lane, else one."""
    if "lanes" in cursor:
        return cursor["lanes"]
    after = cursor.get("after")
    bounds: list[str | None] = []
    count, size = settings.SEGMENTS_REFRESH_LANES, settings.SEGMENTS_REFRESH_BATCH
    if count > 1 and after is None and _can_run_side_by_side():
        ids = _scope_rows(refresh, subject).order_by("pk").values_list("pk", flat=True)
        total = ids.count()
        if total >= count * size:
            bounds = [str(ids[total * lane // count - 1]) for lane in range(1, count)]
    starts, ends = [after, *bounds], [*bounds, None]
    lanes = [[start, end] for start, end in zip(starts, ends, strict=True)]
    refresh.cursor = {"subject": subject, "lanes": lanes}
    RuleRefresh.objects.filter(pk=refresh.pk).update(cursor=refresh.cursor)
    return lanes


def _can_run_side_by_side() -> bool:
    """Lanes run on connections of their own: PostgreSQL, and no transaction of the
    caller's they could not see into."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _run_lanes(refresh: RuleRefresh, subject: str, lanes: list[list[str | None]]) -> None:
    """Run every unfinished lane, each in a thread with its own connection when there are
    several; a lane that fails stops the others after their batch, and its error is
    raised."""
    todo = [(index, lane) for index, lane in enumerate(lanes) if lane[0] != "end"]
    if len(todo) <= 1 or not _can_run_side_by_side():  # one after the other, then
        for index, (after, upto) in todo:
            _lane(refresh, subject, index, after, upto, threading.Event())
        return
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="refresh") as pool:
        runs = [
            pool.submit(_lane_in_thread, refresh, subject, index, after, upto, stop)
            for index, (after, upto) in todo
        ]
    for run in runs:
        run.result()


def _lane_in_thread(
    refresh: RuleRefresh, subject: str, index: int, after: Any, upto: Any, stop: threading.Event
) -> None:
    """``_lane`` on this thread's own connection, closed at the end; a failure stops the
    other lanes (after their batch)."""
    try:
        _lane(refresh, subject, index, after, upto, stop)
    except BaseException:
        stop.set()
        raise
    finally:
        connections.close_all()  # this thread's own


def _lane(
    refresh: RuleRefresh, subject: str, index: int, after: Any, upto: Any, stop: threading.Event
) -> None:
    while after != "end" and not stop.is_set():
        after = _batch(refresh, subject, index, after, upto)


def _batch(refresh: RuleRefresh, subject: str, index: int, after, upto) -> str:
    """One batch of lane ``index`` in its transaction (again when it lost a race for
    locks); the id it ended at, or ``"end"`` after the lane's last."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _batch_once(refresh, subject, index, after, upto)
        except OperationalError as exc:
            if attempt == BATCH_ATTEMPTS or not errors.is_lock_conflict(exc):
                raise
            logger.warning("refresh %s: batch lost a race, again (%s)", refresh.pk, exc)
    raise AssertionError("unreachable")


def _batch_once(refresh: RuleRefresh, subject: str, index: int, after, upto) -> str:
    """The next ``SEGMENTS_REFRESH_BATCH`` rows of the lane after ``after``: found by their
    last id (no id goes through Python), evaluated as one id range; then the refresh's
    counts and the lane's place in its cursor, under the refresh row's lock (another lane
    writes the same row)."""
    size = settings.SEGMENTS_REFRESH_BATCH
    rows = _scope_rows(refresh, subject)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    if upto is not None:
        rows = rows.filter(pk__lte=upto)
    last = next(iter(rows.order_by("pk").values_list("pk", flat=True)[size - 1 : size]), None)
    if last is not None:
        rows, scanned = rows.filter(pk__lte=last), size
    else:
        scanned = rows.count()
    members = rows.live()
    if refresh.ledger_id is not None:
        ledger = Ledger(pk=refresh.ledger_id, organization_id=refresh.organization_id)
        moves = apply_rules(ledger, members, actor=refresh.actor)
    else:
        moves = apply_organization_rules(refresh.organization_id, members, actor=refresh.actor)
    last = str(last) if last is not None else "end"
    cursor = RuleRefresh.objects.select_for_update().values_list("cursor", flat=True)
    cursor = cursor.get(pk=refresh.pk)
    cursor["lanes"][index][0] = last
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        scanned=F("scanned") + scanned,
        added=F("added") + moves.added,
        removed=F("removed") + moves.removed,
        cursor=cursor,
    )
    return last


@transaction.atomic
def _finish(refresh: RuleRefresh) -> None:
    refresh.status, refresh.finished_at = RefreshStatus.DONE, timezone.now()
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        status=refresh.status, finished_at=refresh.finished_at
    )
    if refresh.segment_id is None or not (refresh.added or refresh.removed):
        return
    segment = lock_for_update(Segment.all_objects.get(pk=refresh.segment_id))
    summary = {
        "refreshId": str(refresh.pk),
        "ruleVersion": refresh.rule_version,
        "cause": refresh.cause,
        "scanned": refresh.scanned,
        "added": refresh.added,
        "removed": refresh.removed,
    }
    record(segment, refresh.actor, HistoryAction.MEMBERSHIP_REFRESHED, None, summary)
    data = {"segmentId": str(segment.pk), **summary}
    emit(segment.organization_id, REFRESHED, segment.pk, refresh.finished_at, data)


# --------------------------------------------------------------------------- the worker's chores


def resume_interrupted() -> list[RuleRefresh]:
    """Enqueue again every unfinished refresh whose worker is gone (nobody holds its lock
    and its task is not waiting to run); returns them."""
    waiting = set(DBTaskResult.objects.filter(status="READY").values_list("id", flat=True))
    resumed = []
    for refresh in RuleRefresh.objects.filter(status__in=UNFINISHED).order_by("created_at"):
        if refresh.task_id in waiting or not _nobody_holds(f"refresh:{refresh.pk}"):
            continue
        logger.warning("refresh %s was interrupted: resuming it", refresh.pk)
        DBTaskResult.objects.filter(id=refresh.task_id, status="RUNNING").update(
            status="FAILED", finished_at=timezone.now()
        )
        _enqueue_task(refresh, refresh_rules)
        resumed.append(refresh)
    return resumed


def refresh_time_dependent() -> list[RuleRefresh]:
    """One refresh per scope whose live, active rules read ``now``, unless that scope
    already has one waiting; returns the refreshes queued."""
    rules = SegmentRule.objects.filter(
        time_dependent=True, segment__deleted_at__isnull=True, segment__status_code=Status.ACTIVE
    ).select_related("segment")
    queued = []
    for rule in rules.order_by("priority"):
        scope = Q(organization_id=rule.organization_id, ledger_id=rule.ledger_id)
        if RuleRefresh.objects.filter(scope, status=RefreshStatus.QUEUED).exists():
            continue
        with transaction.atomic():
            queued.append(
                enqueue_refresh(
                    None,
                    rule.organization_id,
                    rule.ledger_id,
                    [rule.subject],
                    cause=RefreshCause.SCHEDULE,
                    segment=rule.segment,
                )
            )
    return queued
