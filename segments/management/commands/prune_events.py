"""``prune_events``: remove published events older than the retention period
(``--days``, default ``EVENTS_RETENTION_DAYS``, 7). Pending and dead rows are never
removed."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from segments.models import Event, EventStatus


class Command(BaseCommand):
    help = "Delete published outbox events older than --days (default 7)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days")

    def handle(self, *args, days: int | None, **options) -> None:
        days = getattr(settings, "EVENTS_RETENTION_DAYS", 7) if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        cutoff = timezone.now() - dt.timedelta(days=days)
        deleted, _ = Event.objects.filter(
            status=EventStatus.PUBLISHED, published_at__lt=cutoff
        ).delete()
        self.stdout.write(f"deleted {deleted} published event(s) older than {days} day(s)")
