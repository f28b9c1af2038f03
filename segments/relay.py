"""The relay: sends the outbox's pending events to RabbitMQ, marking a row published only
after the broker confirmed it (``python manage.py relay_events``; PostgreSQL only).

**Claim.** One transaction per batch, claimed in two steps (``claim``). (1) Walk the pending
rows in id order (the ``(status, id)`` index, at most ``FRONT_WINDOWS`` windows of
``FRONT_FACTOR`` × the batch size):
a row not due yet (``next_attempt_at`` ahead: it is backing off) blocks its subject's later
rows; the due rows of the other subjects are taken in order, each subject under
``pg_try_advisory_xact_lock(CLAIM_LOCK_CLASS, hashtext(subject))`` (a subject another
relay holds is passed over), until the batch is full. (2) Then, in a snapshot taken
after those locks (so whatever the subject's previous holder committed is seen), the
chosen rows are read again and locked ``FOR UPDATE SKIP LOCKED``, keeping only those
still pending, due and behind no pending row that is not due; per subject, a row missing
from that answer drops the subject's later ones from the batch. So two relays never hold
the same row nor the same subject at once (the advisory lock, held to commit, keeps the
second off every row of that subject), and a subject's rows go out in id order, which is
its commit order (``models.events``).

**Publish.** The whole batch goes out on one confirmed channel in id order without
waiting between messages (``segments.publisher``), then the relay waits for the broker's
answers: durable topic exchange (``EVENTS_EXCHANGE``), persistent messages, ``mandatory``
(an unroutable message is returned, not published), routing key = the event key,
CloudEvents binary mode (``ce-*`` headers, ``content-type: application/json``, the data
as body). **Mark.** Per subject, in id order, only the rows up to its first row that was
not confirmed are marked published, in the batch's transaction: a row the broker refused
(returned as unroutable, or nacked) fails (below), a row with no confirm (connection lost,
``confirm_timeout``) is left as it was, and the subject's later rows, sent meanwhile, stay
pending with no attempt counted and go out again after it. A row is never marked without
its confirm. Delivery is at least once: a relay killed between the confirms and its commit
sends those rows again, with the same ``ce-id``. (Sending a subject's rows ahead of their
confirms keeps each queue's order: a returned row had no queue bound to its key, so a
queue that took the later rows never gets it unless its bindings change meanwhile; only a
nack, an internal broker error, can let a queue see a later row before the retried one.)

**Failure.** A refused message: attempts + 1, retried after an exponential backoff (1 s,
2 s, 4 s … capped at ``EVENTS_BACKOFF_CAP_SECONDS``), ``dead`` after
``EVENTS_MAX_ATTEMPTS``. A broker that cannot be reached costs no attempt: the rows stay as
they are, and the relay reconnects with its own backoff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from segments.models import Event, EventStatus
from segments.publisher import TAKEN, Answers, BrokerUnavailable, Publisher
from segments.services.events import EVENTS_CHANNEL

__all__ = ["BrokerUnavailable", "Publisher", "Relay", "claim", "relay_batch", "settle"]

logger = logging.getLogger("segments.relay")

CLAIM_LOCK_CLASS = 15_015  # the advisory lock namespace of a claimed subject
TABLE = Event._meta.db_table
FRONT_FACTOR = 4  # pending rows read per window of the claim's walk, per row wanted
FRONT_WINDOWS = 10  # windows walked at most per claim
DEFAULT_BATCH = 500
WAIT_SLICE = 0.5  # seconds between two looks at ``stopping`` while waiting for work
# Test hook: seconds to sleep per confirmed row, once the batch's confirms are in and
# before its rows are marked published.
PAUSE_AFTER_PUBLISH = "EVENTS_RELAY_PAUSE_AFTER_PUBLISH"


def _front(after: Any, limit: int) -> list[tuple[Any, str, bool]]:
    """``(id, subject, due)`` of the first ``limit`` pending rows after ``after``, in id
    order (the ``(status, id)`` index)."""
    bound = "AND id > %s " if after is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, subject, next_attempt_at <= statement_timestamp() FROM {TABLE} "
            f"WHERE status = 'pending' {bound}ORDER BY id LIMIT %s",
            [after, limit] if after is not None else [limit],
        )
        return cursor.fetchall()


@contextlib.contextmanager
def _planner(**flags: str) -> Iterator[None]:
    """Planner settings for this transaction's next statements, put back after them (on
    an error the transaction's rollback puts them back)."""
    names, values = list(flags), list(flags.values())
    listed = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT array_agg(current_setting(n)) FROM unnest(ARRAY[{listed}]) AS n", names
        )
        before = cursor.fetchone()[0]
        cursor.execute(_SET_CONFIG, [names, values])
    yield
    with connection.cursor() as cursor:
        cursor.execute(_SET_CONFIG, [names, before])


_SET_CONFIG = "SELECT count(set_config(n, v, true)) FROM unnest(%s::text[], %s::text[]) AS f(n, v)"


def _lock_subjects(subjects: list[str]) -> set[str]:
    """Those of ``subjects`` whose advisory lock this transaction got (or held)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s FROM unnest(%s::text[]) AS s "
            "WHERE pg_try_advisory_xact_lock(%s, hashtext(s))",
            [subjects, CLAIM_LOCK_CLASS],
        )
        return {row[0] for row in cursor.fetchall()}


@dataclass
class _Walk:
    """The walk of ``claim``'s first step: what was chosen, and the subjects left out."""

    size: int
    chosen: list[tuple[Any, str]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # a row not due came first
    held: set[str] = field(default_factory=set)  # another transaction holds its lock
    locked: set[str] = field(default_factory=set)

    def take(self, rows: list[tuple[Any, str, bool]]) -> None:
        """Choose, in order, due rows of subjects neither blocked nor held, locking their
        subjects a few at a time until ``size`` rows are chosen."""
        open_rows: list[tuple[Any, str]] = []
        for pk, subject, due in rows:
            if subject in self.blocked or subject in self.held:
                continue
            if not due:
                self.blocked.add(subject)
                continue
            open_rows.append((pk, subject))
        while open_rows and len(self.chosen) < self.size:
            wanted = open_rows[: self.size - len(self.chosen)]
            new = list(dict.fromkeys(s for _, s in wanted if s not in self.locked))
            if new:
                got = _lock_subjects(new)
                self.locked |= got
                self.held |= set(new) - got
            self.chosen += [(pk, s) for pk, s in wanted if s in self.locked]
            rest = open_rows[len(wanted) :]
            open_rows = [(pk, s) for pk, s in rest if s not in self.held]


def _lock_rows(chosen: list[tuple[Any, str]]) -> list[Event]:
    """The chosen rows that are still due and not behind a row not due, read and locked
    ``FOR UPDATE SKIP LOCKED`` in a snapshot taken after their subjects were locked; per
    subject, only those before its first chosen row not returned."""
    upper = max(pk for pk, _ in chosen)
    rows = Event.objects.raw(
        "WITH blocked AS MATERIALIZED (SELECT subject, min(id::text)::uuid AS first "
        f"FROM {TABLE} WHERE status = 'pending' AND id < %s "
        "AND next_attempt_at > statement_timestamp() GROUP BY subject) "
        f"SELECT e.* FROM {TABLE} e WHERE e.id = ANY(%s) AND e.status = 'pending' "
        "AND e.next_attempt_at <= statement_timestamp() AND NOT EXISTS (SELECT 1 FROM "
        "blocked b WHERE b.subject = e.subject AND b.first < e.id) "
        "ORDER BY e.id FOR UPDATE OF e SKIP LOCKED",
        [upper, [pk for pk, _ in chosen]],
    )
    found = {row.pk: row for row in rows}
    kept, stopped = [], set()
    for pk, subject in chosen:
        if subject in stopped:
            continue
        if pk in found:
            kept.append(found[pk])
        else:
            stopped.add(subject)
    return kept


def claim(size: int) -> list[Event]:
    """Lock up to ``size`` due rows (see the module's rule), in id order; call it inside
    the batch's transaction. Whatever the statistics say (an outbox's pending rows come
    and go faster than ``ANALYZE``), the pending rows are read through the ``(status,
    id)`` index in order, never by a bitmap scan and a sort of all of them: an index scan
    stops at the window's end and marks the dead entries published rows leave behind."""
    walk, after = _Walk(size), None
    with _planner(enable_bitmapscan="off"):
        for _ in range(FRONT_WINDOWS):
            with _planner(enable_sort="off"):
                rows = _front(after, size * FRONT_FACTOR)
            walk.take(rows)
            if len(walk.chosen) >= size or len(rows) < size * FRONT_FACTOR:
                break
            after = rows[-1][0]
        return _lock_rows(walk.chosen) if walk.chosen else []


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try of a row that failed ``attempts`` times."""
    cap = float(getattr(settings, "EVENTS_BACKOFF_CAP_SECONDS", 300))
    return dt.timedelta(seconds=min(cap, 2.0 ** max(attempts - 1, 0)))


def settle(
    events: Sequence[Event], answers: Answers
) -> tuple[list[Event], list[tuple[Event, str]]]:
    """Which rows of a published batch (in id order) to mark published and which were
    refused: per subject, the rows before its first one not confirmed; that one is refused
    if the broker said so (else it got no answer); the subject's later rows are neither."""
    taken: list[Event] = []
    refused: list[tuple[Event, str]] = []
    stopped: set[str] = set()
    for event in events:
        if event.subject in stopped:
            continue
        answer = answers.by_id.get(str(event.pk))
        if answer is TAKEN:
            taken.append(event)
            continue
        stopped.add(event.subject)
        if isinstance(answer, str):
            refused.append((event, answer))
    return taken, refused


def _fail(event: Event, error: str) -> None:
    attempts = event.attempts + 1
    dead = attempts >= int(getattr(settings, "EVENTS_MAX_ATTEMPTS", 10))
    Event.objects.filter(pk=event.pk).update(
        attempts=F("attempts") + 1,
        last_error=error[:2000],
        next_attempt_at=timezone.now() + backoff(attempts),
        status=EventStatus.DEAD if dead else EventStatus.PENDING,
    )
    logger.warning("event %s (%s) refused, attempt %d: %s", event.pk, event.key, attempts, error)


@dataclass
class BatchResult:
    claimed: int = 0
    published: list = field(default_factory=list)
    refused: int = 0
    lost: str | None = None  # why the connection ended before every confirm came


def relay_batch(publisher: Publisher, size: int = DEFAULT_BATCH) -> BatchResult:
    """Claim, publish and mark one batch, in one transaction (the module's rule).
    ``BrokerUnavailable`` (nothing claimed) if the broker cannot be reached; a connection
    lost during the batch marks what was confirmed before it, commits, and says so in
    ``lost``."""
    result = BatchResult()
    publisher.open()
    pause = float(os.environ.get(PAUSE_AFTER_PUBLISH) or 0)
    with transaction.atomic():
        events = claim(size)
        result.claimed = len(events)
        if not events:
            return result
        answers = publisher.publish(events)
        taken, refused = settle(events, answers)
        if pause and taken:
            time.sleep(pause * len(taken))
        if taken:
            result.published = [event.pk for event in taken]
            Event.objects.filter(pk__in=result.published).update(
                status=EventStatus.PUBLISHED, published_at=timezone.now()
            )
        for event, error in refused:
            _fail(event, error)
        result.refused, result.lost = len(refused), answers.lost
    return result


def _pause(seconds: float, stopping: Callable[[], bool]) -> None:
    """Sleep ``seconds`` (a backoff), looking at ``stopping()`` every ``WAIT_SLICE``."""
    deadline = time.monotonic() + seconds
    while not stopping() and (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(WAIT_SLICE, remaining))


def wait_for_events(timeout: float, stopping: Callable[[], bool] = lambda: False) -> None:
    """Sleep until an emit commits (``NOTIFY`` on ``EVENTS_CHANNEL``), ``timeout`` passed
    or ``stopping()`` (asked every ``WAIT_SLICE`` seconds: a signal does not end the
    driver's wait)."""
    connection.ensure_connection()
    raw = connection.connection
    raw.execute(f"LISTEN {EVENTS_CHANNEL}")
    deadline = time.monotonic() + timeout
    while not stopping() and (remaining := deadline - time.monotonic()) > 0:
        for _ in raw.notifies(timeout=min(remaining, WAIT_SLICE), stop_after=1):
            return


@dataclass
class Relay:
    """The loop of ``relay_events``: batches while there is work, else wait for a
    ``NOTIFY`` (or ``poll_seconds``); ``once``: stop when nothing is due."""

    publisher: Publisher
    batch_size: int = DEFAULT_BATCH
    poll_seconds: float = 1.0
    once: bool = False
    stopping: Callable[[], bool] = lambda: False
    published: int = 0

    def run(self) -> int:
        """Relay until ``stopping()`` (checked between batches and while waiting for
        work); returns how many went out."""
        unavailable = 0
        while not self.stopping():
            try:
                result = relay_batch(self.publisher, self.batch_size)
                self.published += len(result.published)
                if result.lost is not None:
                    raise BrokerUnavailable(result.lost)
            except BrokerUnavailable as exc:
                unavailable += 1
                logger.warning("broker unavailable (%d in a row): %s", unavailable, exc)
                if self.once:
                    break
                _pause(min(30.0, 0.5 * 2 ** min(unavailable, 6)), self.stopping)
                continue
            unavailable = 0
            if result.claimed == 0 or len(result.published) == 0:
                if self.once:
                    break
                wait_for_events(self.poll_seconds, self.stopping)
                self.publisher.idle()
        self.publisher.close()
        return self.published
