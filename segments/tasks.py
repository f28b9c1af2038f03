"""The schedule of the background worker (Django's tasks framework, on the database
backend; ``manage.py worker``): it refreshes the rules that read ``now`` and resumes the
refreshes whose worker died (the refresh itself is ``services.refresh.refresh_rules``).

The schedule is one waiting ``keep_rules_fresh`` task at a time: each run enqueues the
next ``SEGMENTS_TIME_RULES_REFRESH_SECONDS`` later, and ``ensure_schedule`` (the worker's
start) enqueues one when none is waiting (a transaction-level advisory lock keeps two
workers starting at once from both doing it)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from segments.services import refresh


@task()
def keep_rules_fresh() -> dict[str, int]:
    """Refresh the time-dependent rules, resume interrupted refreshes, and come back."""
    resumed = refresh.resume_interrupted()
    queued = refresh.refresh_time_dependent()
    ensure_schedule(later=True)
    return {"resumed": len(resumed), "queued": len(queued)}


def ensure_schedule(*, later: bool = False) -> None:
    """Enqueue ``keep_rules_fresh`` unless one is already waiting (now, or ``later``: after
    the interval)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('segments.schedule'))")
        waiting = DBTaskResult.objects.filter(
            task_path=keep_rules_fresh.module_path, status="READY"
        )
        if waiting.exists():
            return
        delay = settings.SEGMENTS_TIME_RULES_REFRESH_SECONDS if later else 0
        run_after = timezone.now() + dt.timedelta(seconds=delay)
        keep_rules_fresh.using(run_after=run_after).enqueue()
