"""The relay: sends the outbox's pending events to RabbitMQ, marking a row published only
after the broker confirmed it (``python manage.py relay_events``; PostgreSQL only).

**Claim.** One transaction per batch: ``claim`` locks, in id order, pending rows that
are due (``next_attempt_at`` passed) ``FOR UPDATE SKIP LOCKED``, each also under
``pg_try_advisory_xact_lock(CLAIM_LOCK_CLASS, hashtext(subject))``; a row whose subject
has an earlier pending row still backing off is not taken. So two relays never hold the
same row nor the same subject at once (the advisory lock, held to commit, keeps the
second off every row of that subject), and a subject's rows go out in id order, which is
its commit order (``models.events``). Within a batch, a subject whose row failed sends
nothing more until that row went out.

**Publish.** A durable topic exchange (``EVENTS_EXCHANGE``), persistent messages,
``mandatory`` (an unroutable message is refused, not published), publisher confirms,
routing key = the event key, CloudEvents binary mode through the ``cloudevents``
package's RabbitMQ binding (``ce-*`` headers, ``content-type: application/json``, the
data as body). Delivery is at least once: a relay killed between the confirm and its
commit sends the row again, with the same ``ce-id``.

**Failure.** A refused message (unroutable, nacked): attempts + 1, retried after an
exponential backoff (1 s, 2 s, 4 s … capped at ``EVENTS_BACKOFF_CAP_SECONDS``), ``dead``
after ``EVENTS_MAX_ATTEMPTS``. A broker that cannot be reached costs no attempt: the rows
stay as they are, and the relay reconnects with its own backoff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pika
import pika.exceptions
from cloudevents.core.bindings.rabbitmq import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from segments.event_shapes import attributes
from segments.models import Event, EventStatus
from segments.services.events import EVENTS_CHANNEL

logger = logging.getLogger("segments.relay")

CLAIM_LOCK_CLASS = 15_015  # the advisory lock namespace of a claimed subject
DEFAULT_BATCH = 200
# Test hook: seconds to sleep after each confirm, before the row is marked published.
PAUSE_AFTER_PUBLISH = "EVENTS_RELAY_PAUSE_AFTER_PUBLISH"


class BrokerUnavailable(Exception):
    """The broker could not be reached or the connection dropped: retry later, no attempt
    counted."""


class PublishRefused(Exception):
    """The broker refused this one message (unroutable, nacked): an attempt failed."""


def claim_sql() -> str:
    table = Event._meta.db_table
    return (
        f"SELECT e.id FROM {table} e "
        "WHERE e.status = 'pending' AND e.next_attempt_at <= statement_timestamp() "
        f"AND NOT EXISTS (SELECT 1 FROM {table} p WHERE p.subject = e.subject "
        "AND p.status = 'pending' AND p.id < e.id "
        "AND p.next_attempt_at > statement_timestamp()) "
        "AND pg_try_advisory_xact_lock(%s, hashtext(e.subject)) "
        "ORDER BY e.id LIMIT %s FOR UPDATE OF e SKIP LOCKED"
    )


def claim(size: int) -> list[Event]:
    """Lock up to ``size`` due rows (see the module's rule), in id order; call it inside
    the batch's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(claim_sql(), [CLAIM_LOCK_CLASS, size])
        ids = [row[0] for row in cursor.fetchall()]
    return list(Event.objects.filter(pk__in=ids).order_by("id")) if ids else []


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try of a row that failed ``attempts`` times."""
    cap = float(getattr(settings, "EVENTS_BACKOFF_CAP_SECONDS", 300))
    return dt.timedelta(seconds=min(cap, 2.0 ** max(attempts - 1, 0)))


class Publisher:
    """One confirmed channel to the broker, opened on first use."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url, self.exchange = url, exchange
        self.connection: pika.BlockingConnection | None = None
        self.channel = None

    def open(self) -> None:
        if self.connection is not None and self.connection.is_open:
            return
        parameters = pika.URLParameters(self.url)
        parameters.connection_attempts, parameters.socket_timeout = 1, 5
        parameters.blocked_connection_timeout = 30
        try:
            self.connection = pika.BlockingConnection(parameters)
            self.channel = self.connection.channel()
            self.channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            self.channel.confirm_delivery()
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def publish(self, event: Event) -> None:
        """Send one event and wait for its confirm (``PublishRefused`` if the broker
        returned or nacked it, ``BrokerUnavailable`` if the connection failed)."""
        self.open()
        message = to_binary(CloudEvent(_ce_attributes(event), event.data), JSONFormat())
        properties = pika.BasicProperties(
            content_type=message.content_type,
            headers=message.headers,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(event.pk),
        )
        try:
            self.channel.basic_publish(
                self.exchange, event.key, message.body, properties, mandatory=True
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise PublishRefused(f"{type(exc).__name__}: the broker did not take it") from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        connection_, self.connection, self.channel = self.connection, None, None
        if connection_ is not None and connection_.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection_.close()


def _ce_attributes(event: Event) -> dict:
    """The row's CloudEvents attributes, ``time`` as a datetime (the binding formats it)."""
    return attributes(event) | {"time": event.time.astimezone(dt.UTC)}


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


def relay_batch(publisher: Publisher, size: int = DEFAULT_BATCH) -> BatchResult:
    """Claim, publish and mark one batch, in one transaction. A lost connection marks what
    was confirmed before it and raises ``BrokerUnavailable``."""
    result = BatchResult()
    pause = float(os.environ.get(PAUSE_AFTER_PUBLISH) or 0)
    with transaction.atomic():
        events = claim(size)
        result.claimed, held_back = len(events), set()
        try:
            for event in events:
                if event.subject in held_back:
                    continue
                try:
                    publisher.publish(event)
                except PublishRefused as exc:
                    held_back.add(event.subject)
                    result.refused += 1
                    _fail(event, str(exc))
                    continue
                if pause:
                    time.sleep(pause)
                result.published.append(event.pk)
        finally:
            if result.published:
                Event.objects.filter(pk__in=result.published).update(
                    status=EventStatus.PUBLISHED, published_at=timezone.now()
                )
    return result


def wait_for_events(timeout: float) -> None:
    """Sleep until an emit commits (``NOTIFY`` on ``EVENTS_CHANNEL``) or ``timeout``."""
    connection.ensure_connection()
    raw = connection.connection
    raw.execute(f"LISTEN {EVENTS_CHANNEL}")
    for _ in raw.notifies(timeout=timeout, stop_after=1):
        break


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
        """Relay until ``stopping()`` (checked between batches); returns how many went
        out."""
        unavailable = 0
        while not self.stopping():
            try:
                result = relay_batch(self.publisher, self.batch_size)
            except BrokerUnavailable as exc:
                unavailable += 1
                logger.warning("broker unavailable (%d in a row): %s", unavailable, exc)
                if self.once:
                    break
                time.sleep(min(30.0, 0.5 * 2 ** min(unavailable, 6)))
                continue
            unavailable = 0
            self.published += len(result.published)
            if result.claimed == 0 or len(result.published) == 0:
                if self.once:
                    break
                wait_for_events(self.poll_seconds)
        self.publisher.close()
        return self.published
