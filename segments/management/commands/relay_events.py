"""``relay_events``: send the outbox's pending events to RabbitMQ (``segments.relay``).

Needs ``EVENTS_BROKER_URL`` (refuses to start without it) and PostgreSQL. Wakes on every
committed change (``LISTEN``), polls every ``--poll`` seconds besides; on SIGTERM or
SIGINT it finishes the batch in hand and exits 0. ``--once``: stop when nothing is due.
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from segments.relay import DEFAULT_BATCH, Publisher, Relay


class Command(BaseCommand):
    help = "Publish pending outbox events to RabbitMQ (EVENTS_BROKER_URL), confirmed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="stop when nothing is due")
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per claim")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args, once: bool, batch: int, poll: float, **options) -> None:
        url = getattr(settings, "EVENTS_BROKER_URL", None)
        if not url:
            raise CommandError(
                "EVENTS_BROKER_URL is not set: no broker to relay to (events stay in the "
                "outbox and the feed). Set it, e.g. amqp://guest:guest@127.0.0.1:5672/%2F."
            )
        if connection.vendor != "postgresql":
            raise CommandError("The relay needs PostgreSQL (SKIP LOCKED, LISTEN/NOTIFY).")
        stop = {"asked": False}

        def ask_to_stop(signum, frame) -> None:
            stop["asked"] = True

        signal.signal(signal.SIGTERM, ask_to_stop)
        signal.signal(signal.SIGINT, ask_to_stop)
        relay = Relay(
            Publisher(url, settings.EVENTS_EXCHANGE),
            batch_size=batch,
            poll_seconds=poll,
            once=once,
            stopping=lambda: stop["asked"],
        )
        published = relay.run()
        self.stdout.write(f"published {published} event(s)")
