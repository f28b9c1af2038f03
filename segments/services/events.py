"""The one place events are written: ``emit`` (one row) and ``members_changed`` (a
segment's membership change, chunked), called by the services in the transaction of the
change, after the lock on the subject they already hold. A rolled-back call leaves no
event; a committed one always has its events.

Ids are made here, not by a column default: UUIDv7, and never below the subject's latest
event, read under the subject's lock (``models.events``: per subject, ids increase in
commit order). On PostgreSQL the same statement queues a ``NOTIFY`` on ``EVENTS_CHANNEL``,
which PostgreSQL delivers on commit only: it wakes the relay (``segments.relay``). ``emit``
does both in the statement that inserts its row, when the subject has no id at or above
the new one (else it reads the latest id first).

``retry_dead_events`` is the one change made to a row after it was written that is not
the relay's: the back office sends dead rows again (``segments.admin.events``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from segments.errors import PermissionDenied
from segments.event_shapes import entity_payload
from segments.ids import uuid_or_none
from segments.locking import atomic_service
from segments.models import Event, EventStatus

EVENTS_CHANNEL = "segments_events"
RETRY_PERMISSION = "segments.retry_event"
MEMBERS_CHUNK = 1_000
MEMBERS_CHANGED = "segment.members.changed"


def _latest_of(subject: str) -> uuid.UUID | None:
    """The subject's latest event id; on PostgreSQL, with the wakeup queued for commit."""
    table = Event._meta.db_table
    if connection.vendor != "postgresql":
        return (
            Event.objects.filter(subject=subject)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT id FROM {table} WHERE subject = %s ORDER BY id DESC LIMIT 1), "
            "pg_notify(%s, '')",
            [subject, EVENTS_CHANNEL],
        )
        return cursor.fetchone()[0]


def _v7(millis: int, rand_a: int) -> uuid.UUID:
    rand_b = secrets.randbits(62)
    return uuid.UUID(int=(millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


def _after(latest: uuid.UUID) -> uuid.UUID:
    """A UUIDv7 one millisecond after ``latest``'s, random otherwise: greater than it."""
    return _v7((latest.int >> 80) + 1, secrets.randbits(12))


_clock = threading.Lock()
_last_id_at = [0, 0]  # the millisecond and the counter of the process's latest new id


def new_event_id() -> uuid.UUID:
    """A UUIDv7 of the current millisecond, above the process's previous one (a 12-bit
    counter within a millisecond, RFC 9562's method 1). Not ``uuid6.uuid7``: that one
    moves its clock one millisecond ahead for every id made within a millisecond anywhere
    in the process — a bulk load of 20,000 rows puts the next events 20 s in the future,
    and the feed holds back ids ahead of the clock until the clock catches up."""
    with _clock:
        millis, counter = time.time_ns() // 1_000_000, 0
        if millis <= _last_id_at[0]:
            millis, counter = _last_id_at[0], _last_id_at[1] + 1
            if counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                millis, counter = millis + 1, 0
        _last_id_at[:] = [millis, counter]
    return _v7(millis, counter)


def next_ids(subject: str, count: int = 1) -> list[uuid.UUID]:
    """``count`` increasing UUIDv7 ids for new events of ``subject``, each above its latest
    one. Call it holding the subject's lock."""
    latest = _latest_of(subject)
    ids: list[uuid.UUID] = []
    for _ in range(count):
        new = new_event_id()
        if latest is not None and new <= latest:
            new = _after(latest)
        ids.append(new)
        latest = new
    return ids


def _row(event_id, organization_id, key: str, subject: str, time, data, now) -> Event:
    return Event(
        id=event_id,
        organization_id=organization_id,
        key=key,
        subject=subject,
        time=time,
        data=data,
        next_attempt_at=now,
    )


def _insert_if_newest(event: Event) -> bool:
    """On PostgreSQL, one statement: insert ``event`` (wakeup queued) unless its subject
    already has an event at or above its id; whether it was inserted."""
    if connection.vendor != "postgresql":
        return False
    table, data = Event._meta.db_table, Event._meta.get_field("data")
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH wake AS MATERIALIZED (SELECT pg_notify(%s, '')) "
            f"INSERT INTO {table} (id, organization_id, key, subject, time, data, status, "
            "attempts, next_attempt_at) SELECT %s, %s, %s, %s, %s, %s, %s, 0, %s FROM wake "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE subject = %s AND id >= %s) "
            "RETURNING txid",
            [
                EVENTS_CHANNEL, event.pk, event.organization_id, event.key, event.subject,
                event.time, data.get_db_prep_save(event.data, connection), event.status,
                event.next_attempt_at, event.subject, event.pk,
            ],
        )  # fmt: skip
        inserted = cursor.fetchone()
    if inserted is not None:
        event.txid = inserted[0]
        event._state.adding, event._state.db = False, connection.alias
    return inserted is not None


def emit(organization_id: Any, key: str, subject: Any, time: dt.datetime, data: dict) -> Event:
    """Write one event of ``key`` (``segment.created`` …) about ``subject`` (the aggregate's
    id) in the caller's transaction: in one statement when a fresh UUIDv7 is above the
    subject's latest id (the usual case), else with ``next_ids``."""
    subject = str(subject)
    event = _row(new_event_id(), organization_id, key, subject, time, data, timezone.now())
    if not _insert_if_newest(event):
        event.id = next_ids(subject)[0]
        event.save(force_insert=True)
    return event


def emit_entity(row: Any, event: str) -> Event:
    """``<entity>.<event>`` (created, updated, deleted) of an organization, ledger,
    segment, portfolio, account or benefit, with its payload (``event_shapes``)."""
    time, data = entity_payload(row, event)
    organization_id = row.pk if row.entity_type == "Organization" else row.organization_id
    return emit(organization_id, f"{row.entity_type.lower()}.{event}", row.pk, time, data)


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[start : start + MEMBERS_CHUNK] for start in range(0, len(ids), MEMBERS_CHUNK)]


def _parts(added: dict[str, Sequence[str]], removed: dict[str, Sequence[str]]) -> list[dict]:
    """The change as parts of at most ``MEMBERS_CHUNK`` ids each, in the order added
    accounts, added portfolios, removed accounts, removed portfolios."""
    parts: list[dict] = []
    for side, members in (("added", added), ("removed", removed)):
        for kind in ("accounts", "portfolios"):
            for chunk in _chunks(list(members.get(kind, ()))):
                body = {
                    "added": {"accounts": [], "portfolios": []},
                    "removed": {"accounts": [], "portfolios": []},
                }
                body[side][kind] = [str(pk) for pk in chunk]
                parts.append(body)
    return parts


def members_changed(
    segment: Any,
    *,
    cause: str = "manual",
    added: dict[str, Sequence[Any]] | None = None,
    removed: dict[str, Sequence[Any]] | None = None,
) -> int:
    """``segment.members.changed`` for the accounts and portfolios that joined (``added``)
    or left (``removed``) ``segment`` (locked by the caller): one row per at most
    ``MEMBERS_CHUNK`` ids, numbered ``part`` of ``parts``, written in one statement.
    ``cause`` is manual, delete, import or rule. Returns how many rows."""
    parts = _parts(added or {}, removed or {})
    if not parts:
        return 0
    subject, now = str(segment.pk), timezone.now()
    ids = next_ids(subject, len(parts))
    rows = [
        _row(
            event_id,
            segment.organization_id,
            MEMBERS_CHANGED,
            subject,
            now,
            {"segmentId": subject, **body, "cause": cause, "part": number, "parts": len(parts)},
            now,
        )
        for number, (event_id, body) in enumerate(zip(ids, parts, strict=True), start=1)
    ]
    Event.objects.bulk_create(rows, batch_size=MEMBERS_CHUNK)
    return len(rows)


def may_retry_events(user: Any) -> bool:
    """Whether ``user`` may retry dead events: an active staff user holding
    ``segments.retry_event`` (a superuser holds every permission)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(RETRY_PERMISSION)
    )


@atomic_service
def retry_dead_events(actor: Any, event_ids: Iterable[Any]) -> int:
    """Send dead events again. Only **dead** rows among ``event_ids`` are retried: each
    becomes pending with its attempts back to 0 and its next attempt now (its last error
    kept until the next attempt), and records **who retried it and when** (``retried_by``,
    ``retried_at``). Pending and published rows, and ids that name no row, are left
    untouched. Only a user ``may_retry_events`` allows may retry: anyone else gets
    ``PermissionDenied`` (9004) and nothing changes. Returns how many rows were retried;
    the relays are woken at commit (``NOTIFY``)."""
    if not may_retry_events(actor):
        raise PermissionDenied("Only staff allowed to retry dead events may retry them.")
    ids = [pk for pk in map(uuid_or_none, event_ids) if pk is not None]
    if not ids:
        return 0
    now = timezone.now()
    retried = Event.objects.filter(pk__in=ids, status=EventStatus.DEAD).update(
        status=EventStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        retried_by=actor.get_username(),
        retried_at=now,
    )
    if retried and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [EVENTS_CHANNEL])
    return retried
