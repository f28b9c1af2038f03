"""The background worker in tests: ``run_worker`` runs ``manage.py worker`` in this process
until no task is ready (the real worker code on the real database backend; the test must
be transactional, as the worker checks its connection between tasks as in production);
``worker_process`` starts it as a separate process on the live test database, for tests
that kill it or run two."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from tests.testing.gunicorn import ROOT, database_url


def run_worker() -> None:
    """Every task that is ready, run now by the worker (in this process)."""
    call_command("worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def worker_process(log: Path, **environment: str) -> subprocess.Popen:
    """``manage.py worker`` as its own process on the test database (polling every 0.1 s),
    its output in ``log``; the caller stops it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "segments_console.test_settings",
        "DATABASE_URL": database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        **environment,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--interval", "0.1", "--no-reload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
