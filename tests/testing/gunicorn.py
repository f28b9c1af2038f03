"""gunicorn servers on the live test database, for tests that need the production HTTP
stack (several processes, real sockets): ``serve`` starts them and stops them after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def worker_ports(first: int, count: int) -> tuple[int, ...]:
    """``count`` ports for this xdist worker (gw0 gets ``first``…, gw1 the next ``count``…),
    so parallel workers that each start servers never collide."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 4
    return tuple(first + count * worker + offset for offset in range(count))


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_until_serving(process: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server {base} exited ({process.returncode}):\n{log.read_text()}")
        try:
            if requests.get(f"{base}/login/", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"server {base} did not answer within 90 s:\n{log.read_text()}")


@contextmanager
def serve(ports: tuple[int, ...], logs: Path, **environment: str) -> Iterator[list[str]]:
    """One gunicorn server (one worker) per port on the test database and this session's
    cache, with ``environment`` added; their base URLs."""
    cache_settings = settings.CACHES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "segments_console.test_settings",
        "DATABASE_URL": database_url(),
        "DATABASE_POOL_SIZE": "2",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **environment,
    }
    if cache_settings.get("LOCATION", "").startswith("redis"):
        env["REDIS_URL"] = cache_settings["LOCATION"]
        env["CACHE_KEY_PREFIX"] = cache_settings["KEY_PREFIX"]
    env.pop("REPLICA_DATABASE_URL", None)
    started = []
    try:
        for port in ports:
            log = logs / f"gunicorn-{port}.log"
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "segments_console.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--timeout",
                    "60",
                ],
                cwd=ROOT,
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            started.append(process)
            _wait_until_serving(process, f"http://127.0.0.1:{port}", log)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
