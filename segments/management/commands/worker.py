"""``manage.py worker``: the background worker — django_tasks_db's ``db_worker`` (same
options), which first resumes the rule refreshes a killed worker left unfinished and
makes sure the schedule of time-dependent rules is waiting."""

from __future__ import annotations

from typing import Any

from django_tasks_db.management.commands import db_worker

from segments.services.refresh import resume_interrupted
from segments.tasks import ensure_schedule


class Command(db_worker.Command):
    help = "Run the background worker (rule refreshes, previews, the rules' schedule)."

    def handle(self, *args: Any, **options: Any) -> None:
        for refresh in resume_interrupted():
            self.stdout.write(f"Resuming refresh {refresh.pk} (it was interrupted).")
        ensure_schedule()
        super().handle(*args, **options)
