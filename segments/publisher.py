"""The relay's connection to RabbitMQ: a batch of messages published on one confirmed
channel without waiting between them, and the broker's answer for each (``segments.relay``
decides what to mark).

**What counts as confirmed.** A message is taken only when its ``basic.ack`` arrived (its
delivery tag, or a ``multiple`` ack covering it) and no ``basic.return`` came for it
first: messages are ``mandatory``, so an unroutable one is returned (matched by its
``message_id``, the event id) and then acked, and it is refused. A ``basic.nack`` refuses
it too. A message with no answer yet when the connection or channel closed, or when
``confirm_timeout`` passed, is unknown: never reported as taken.

pika's ``SelectConnection`` (its own I/O loop, run here only while a batch or the connection
is waited for, never from another thread): publishing is buffered and flushed by the loop,
confirms come back as callbacks. ``idle`` runs the loop for an instant so heartbeats go on
while the relay waits for work. A connection that fails is dropped and opened again by the
next batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pika
import pika.exceptions
import pika.spec
from cloudevents.core.bindings.rabbitmq import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from segments.event_shapes import attributes
from segments.models import Event

OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
CONFIRM_TIMEOUT = 30.0
TAKEN = True
_FORMAT = JSONFormat()


class BrokerUnavailable(Exception):
    """The broker could not be reached or the connection dropped: retry later, no attempt
    counted."""


@dataclass
class Answers:
    """The broker's answer to each message of a batch, by event id: ``TAKEN``, or the
    reason it was refused (a string); an id absent here got no answer. ``lost`` says why
    the connection ended before every answer came."""

    by_id: dict[str, bool | str] = field(default_factory=dict)
    lost: str | None = None


def message(event: Event) -> tuple[bytes, pika.BasicProperties]:
    """The row as a CloudEvents binary-mode message: ``ce-*`` headers, JSON body,
    persistent, ``message_id`` = the event id."""
    attrs = attributes(event) | {"time": event.time.astimezone(dt.UTC)}
    binary = to_binary(CloudEvent(attrs, event.data), _FORMAT)
    properties = pika.BasicProperties(
        content_type=binary.content_type,
        headers=binary.headers,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(event.pk),
    )
    return binary.body, properties


class Publisher:
    """One confirmed channel to ``exchange`` (a durable topic exchange, declared on open),
    opened on first use and after any failure."""

    def __init__(self, url: str, exchange: str, confirm_timeout: float = CONFIRM_TIMEOUT) -> None:
        self.url, self.exchange, self.confirm_timeout = url, exchange, confirm_timeout
        self.connection: pika.SelectConnection | None = None
        self.channel = None
        self._ready, self._error = False, None
        self._done: Callable[[], bool] = lambda: True
        self._tag = 0  # the channel's last delivery tag
        self._unanswered: dict[int, str] = {}  # delivery tag -> event id, in tag order
        self._returned: dict[str, str] = {}  # event id -> why it came back
        self._answers = Answers()

    # ------------------------------------------------------------------ the I/O loop

    def _run_until(self, done: Callable[[], bool], timeout: float) -> None:
        """Run the connection's loop until ``done()``, the connection closed, or
        ``timeout`` seconds."""
        self._done = done
        if self.connection is None or self._stop_now():
            return
        ioloop = self.connection.ioloop
        timer = ioloop.call_later(timeout, ioloop.stop)
        try:
            ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
            self._done = lambda: True

    def _stop_now(self) -> bool:
        return self._error is not None or self._done()

    def _wake(self) -> None:
        if self.connection is not None and self._stop_now():
            self.connection.ioloop.stop()

    # ------------------------------------------------------------------ open and close

    def open(self) -> None:
        """Connect, declare the exchange and select confirms, unless already done;
        ``BrokerUnavailable`` when that fails."""
        if self._ready and self.channel is not None and self.channel.is_open:
            return
        self.close()
        parameters = pika.URLParameters(self.url)
        parameters.connection_attempts, parameters.socket_timeout = 1, 5
        parameters.blocked_connection_timeout = 30
        self._ready, self._error = False, None
        self.connection = pika.SelectConnection(
            parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_failure,
            on_close_callback=self._on_failure,
        )
        self._run_until(lambda: self._ready, OPEN_TIMEOUT)
        if not self._ready:
            error = self._error or f"not ready within {OPEN_TIMEOUT:g} s"
            self.close()
            raise BrokerUnavailable(error)

    def _on_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        self.channel, self._tag = channel, 0
        channel.add_on_close_callback(self._on_failure)
        channel.add_on_return_callback(self._on_return)

        def select_confirms(_frame) -> None:
            channel.confirm_delivery(self._on_answer, callback=self._on_selected)

        channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, callback=select_confirms
        )

    def _on_selected(self, _frame) -> None:
        self._ready = True
        self._wake()

    def _on_failure(self, _source, reason) -> None:
        """The connection could not open, or it or the channel closed."""
        if self._error is None:
            self._error = f"{type(reason).__name__}: {reason}"
        self._ready = False
        self._wake()

    def close(self) -> None:
        """Close the connection (if any) and forget it and every unanswered message."""
        connection, self.connection, self.channel = self.connection, None, None
        self._ready, self._unanswered, self._returned = False, {}, {}
        if connection is None:
            return
        if not (connection.is_closing or connection.is_closed):
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()
            self.connection, self._error = connection, None
            self._run_until(lambda: connection.is_closed, CLOSE_TIMEOUT)
            self.connection = None
        with contextlib.suppress(Exception):
            connection.ioloop.close()

    def idle(self) -> None:
        """Let the loop answer heartbeats (and notice a dropped connection) while the
        relay waits for work."""
        if self.connection is not None and self._ready:
            self._run_until(lambda: False, 0)

    # ------------------------------------------------------------------ publishing

    def publish(self, events: Sequence[Event]) -> Answers:
        """Send ``events`` in order, then wait for the broker's answers (see the module's
        rule). ``BrokerUnavailable`` if the broker cannot be reached; a connection lost
        on the way returns what was answered before, with ``lost`` set."""
        self.open()
        self._answers, self._returned = Answers(), {}
        try:
            for event in events:
                body, properties = message(event)
                self.channel.basic_publish(
                    self.exchange, event.key, body, properties, mandatory=True
                )
                self._tag += 1
                self._unanswered[self._tag] = properties.message_id
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._error = self._error or f"{type(exc).__name__}: {exc}"
        self._run_until(lambda: not self._unanswered, self.confirm_timeout)
        answers = self._answers
        if self._unanswered or self._error is not None:
            answers.lost = self._error or f"no confirm within {self.confirm_timeout:g} s"
            self.close()
        return answers

    def _on_return(self, _channel, method, properties, _body) -> None:
        """``basic.return`` of a mandatory message no queue took (its ack follows)."""
        self._returned[properties.message_id] = (
            f"UnroutableError: {method.reply_code} {method.reply_text}"
        )

    def _on_answer(self, frame) -> None:
        """``basic.ack`` / ``basic.nack`` of one delivery tag, or of every one up to it."""
        method = frame.method
        taken = isinstance(method, pika.spec.Basic.Ack)
        upto = method.delivery_tag
        tags = [upto]
        if method.multiple:
            tags = []
            for tag in self._unanswered:  # in tag order
                if tag > upto:
                    break
                tags.append(tag)
        for tag in tags:
            event_id = self._unanswered.pop(tag, None)
            if event_id is None:
                continue
            if not taken:
                self._answers.by_id[event_id] = "NackError: the broker did not take it"
            else:
                self._answers.by_id[event_id] = self._returned.pop(event_id, TAKEN)
        self._wake()
