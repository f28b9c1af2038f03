"""Database restart drill.

Starts a private PostgreSQL cluster (so no other database on the machine is disturbed),
serves the app from it with gunicorn, sends a bounded stream of reads and writes on
loopback, restarts PostgreSQL in the middle, and prints:

- requests sent, answered 2xx, answered 503 with the error body while the database was
  down (and anything else),
- seconds from the database being back until the first successful write,
- writes lost or duplicated (both must be 0).

Every write carries an ``Idempotency-Key``; a write that was not acknowledged is retried
with the same key until it is, as a careful client would. The app is never restarted.
Exit status 0 only when nothing was lost or duplicated, every failure while the database
was down was a 503 problem document, and the app recovered by itself.

Usage: python bench/db_restart.py [--requests 600] [--seconds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgcluster import PrivateCluster  # noqa: E402

PYTHON = sys.executable
PG_PORT = 55432
APP_PORT = 8201
EXPECTED_OUTCOMES = ("2xx", "503 with error body")


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


SETUP = """
from django.contrib.auth import get_user_model
from segments import services
user = get_user_model().objects.create_user("drill", password="x", is_staff=True)
org = services.create_organization(user, legal_name="Drill Bank", legal_document="1")
ledger = services.create_ledger(user, org, name="Drill")
print(org.pk, ledger.pk)
"""


class Drill:
    def __init__(self, base: str, token: str, org: str, ledger: str, total: int) -> None:
        self.url = f"{base}/v1/organizations/{org}/ledgers/{ledger}/segments"
        self.token = token
        self.total = total
        self.results: Counter[str] = Counter()
        self.down_answers: Counter[str] = Counter()
        self.pending: list[tuple[str, str]] = []
        self.acknowledged: dict[str, str] = {}
        self.database_down = threading.Event()
        self.database_back_at: float | None = None
        self.first_write_after_restart: float | None = None
        self.lock = threading.Lock()

    def call(self, method: str, url: str, body: dict | None = None, key: str | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return 0, str(error)

    def note(self, status: int, body) -> str:
        if 200 <= status < 300:
            return "2xx"
        if (
            status == 503
            and isinstance(body, dict)
            and body.get("code")
            and body.get("status") == 503
        ):
            return "503 with error body"
        return f"{status or 'no answer'}"

    def write(self, name: str, key: str) -> None:
        status, body = self.call("POST", self.url, {"name": name}, key)
        outcome = self.note(status, body)
        with self.lock:
            self.results[outcome] += 1
            if self.database_down.is_set():
                self.down_answers[outcome] += 1
            if outcome == "2xx":
                self.acknowledged[name] = body["id"]
                if self.database_back_at and self.first_write_after_restart is None:
                    self.first_write_after_restart = time.monotonic()
            else:
                self.pending.append((name, key))

    def read(self) -> None:
        status, body = self.call("GET", self.url + "?limit=10")
        outcome = self.note(status, body)
        with self.lock:
            self.results[outcome] += 1
            if self.database_down.is_set():
                self.down_answers[outcome] += 1

    def run(self, seconds: float, on_tick) -> None:
        started = time.monotonic()
        sent = 0
        while sent < self.total and time.monotonic() - started < seconds:
            on_tick(time.monotonic() - started)
            if sent % 2 == 0:
                with self.lock:
                    retry = self.pending.pop(0) if self.pending else None
                name, key = retry or (f"drill-{sent:05d}", str(uuid.uuid4()))
                self.write(name, key)
            else:
                self.read()
            sent += 1
            time.sleep(0.02)
        deadline = time.monotonic() + 30
        while self.pending and time.monotonic() < deadline:
            with self.lock:
                name, key = self.pending.pop(0)
            self.write(name, key)
            sent += 1
        self.sent = sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()

    cluster = PrivateCluster(PG_PORT)
    server = None
    try:
        cluster.init()
        cluster.start()
        cluster.psql("CREATE DATABASE drill")
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/drill",
            "DEBUG": "0",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "DATABASE_POOL_TIMEOUT": "2",
            "API_THROTTLE_RATE": "100000/minute",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "segments_console.settings",
        }
        manage(env, "migrate", "--noinput")
        org, ledger = manage(env, "shell", "-c", SETUP).split()[-2:]
        token = manage(env, "create_api_token", "drill")
        server = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "segments_console.wsgi",
                "-b",
                f"127.0.0.1:{APP_PORT}",
                "-w",
                "2",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{APP_PORT}"
        # Until the server answers; its first schema can take seconds on a loaded machine.
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/v1/openapi.json", timeout=30)
                break
            except urllib.error.HTTPError:
                break
            except OSError:  # refused, reset or timed out: not up yet
                time.sleep(0.2)

        drill = Drill(base, token, org, ledger, args.requests)
        stop_at, start_at = args.seconds * 0.25, args.seconds * 0.25 + 5
        state = {"stopped": False, "started": False}

        def on_tick(elapsed: float) -> None:
            if not state["stopped"] and elapsed >= stop_at:
                state["stopped"] = True
                drill.database_down.set()
                cluster.stop()
            elif state["stopped"] and not state["started"] and elapsed >= start_at:
                state["started"] = True
                cluster.start()
                drill.database_down.clear()
                drill.database_back_at = time.monotonic()

        drill.run(args.seconds, on_tick)

        created = json.loads(
            cluster.psql(
                "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name)), '[]') "
                "FROM segments_segment",
                database="drill",
            )
        )
        names = Counter(row["name"] for row in created)
        ids = {row["id"] for row in created}
        lost = sum(1 for pk in drill.acknowledged.values() if pk not in ids) + len(drill.pending)
        duplicated = sum(count - 1 for count in names.values() if count > 1)
        recovery = (
            drill.first_write_after_restart - drill.database_back_at
            if drill.first_write_after_restart and drill.database_back_at
            else None
        )
        down_bad = {k: v for k, v in drill.down_answers.items() if k not in EXPECTED_OUTCOMES}
        print("\nDatabase restart drill")
        print(f"  requests sent:                     {drill.sent}")
        print(f"  answered 2xx:                      {drill.results['2xx']}")
        print(f"  answered 503 (error body), down:   {drill.down_answers['503 with error body']}")
        others = {k: v for k, v in drill.results.items() if k not in EXPECTED_OUTCOMES}
        print(f"  other answers:                     {others or 'none'}")
        print(
            f"  seconds to recover:                {recovery:.2f}"
            if recovery is not None
            else "  seconds to recover:                did not recover"
        )
        print(f"  writes acknowledged:               {len(drill.acknowledged)}")
        print(f"  writes lost:                       {lost}")
        print(f"  writes duplicated:                 {duplicated}")
        ok = lost == 0 and duplicated == 0 and recovery is not None and not down_bad
        print("  result:                            " + ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
