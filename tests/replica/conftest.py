"""A real streaming replica for the tests (issue #11 item 9): a private primary and a
standby made from it with ``pg_basebackup -R`` (``bench/pgcluster.py``: temporary
directories, ports 55440–55449, run as the ``postgres`` OS user, fsync off), and the app
served by gunicorn with ``DATABASE_URL`` on the primary and ``REPLICA_DATABASE_URL`` on
the standby (``bench/live_server.py``: migrated, seeded, production mode). Both clusters
and the server are stopped and removed at the end of the session, whatever happened.

The tests prove where a read went by pausing replay on the standby
(``pg_wal_replay_pause()``): a row written meanwhile exists on the primary only, so a
read that shows it was served by the primary and one that misses it by the replica.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.live_server import LiveApp, live_app
from bench.pgcluster import FAST, PrivateCluster, free_ports, wait_until

PG_PORTS = range(55440, 55450)
APP_PORTS = range(8460, 8470)


def _ports(ports: range, per_worker: int) -> list[int]:
    """``ports`` starting at this xdist worker's own share, so that parallel workers do
    not race for the same free port (the scan still skips ports in use)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    start = (worker * per_worker) % len(ports)
    return [*ports[start:], *ports[:start]]


PIN_SECONDS = 3  # REPLICA_READ_YOUR_WRITES_SECONDS of the test server
RETRY_SECONDS = 5  # REPLICA_RETRY_SECONDS of the test server


@dataclass
class Pair:
    primary: PrivateCluster
    standby: PrivateCluster
    database: str = "segments"

    def sql(self, cluster: PrivateCluster, query: str, *params: Any) -> list[tuple]:
        with psycopg.connect(cluster.url(self.database), autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the standby has replayed everything the primary wrote so far."""
        (lsn,) = self.sql(self.primary, "SELECT pg_current_wal_lsn()")[0]
        wait_until(
            lambda: self.sql(
                self.standby, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", str(lsn)
            )[0][0],
            timeout,
            what=f"the standby to replay up to {lsn}",
        )

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The standby keeps answering but replays nothing: what is written meanwhile
        exists on the primary only. Replay resumes (and catches up) on exit."""
        self.wait_replayed()
        self.sql(self.standby, "SELECT pg_wal_replay_pause()")
        try:
            wait_until(
                lambda: (
                    self.sql(self.standby, "SELECT pg_get_wal_replay_pause_state()")[0][0]
                    == "paused"
                ),
                10,
                what="replay to pause",
            )
            yield
        finally:
            if self.standby_running():
                self.sql(self.standby, "SELECT pg_wal_replay_resume()")
                self.wait_replayed()

    def standby_running(self) -> bool:
        try:
            self.sql(self.standby, "SELECT 1")
        except psycopg.OperationalError:
            return False
        return True


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[Pair]:
    primary_port, standby_port = free_ports(2, _ports(PG_PORTS, 2))
    primary = PrivateCluster(primary_port, FAST)
    standby = None
    try:
        primary.init()
        primary.start()
        standby = primary.standby(standby_port)
        standby.start()
        yield Pair(primary, standby)
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()


@pytest.fixture(scope="session")
def replica_app(replica_pair: Pair) -> Iterator[LiveApp]:
    """The app on the pair: migrated and seeded through the primary, everything replayed
    on the standby before the first test."""
    (port,) = free_ports(1, _ports(APP_PORTS, 1))
    with live_app(
        replica_pair.primary.url(replica_pair.database),
        port,
        role="ADMIN",
        username="replica",
        password="replica-password",
        REPLICA_DATABASE_URL=replica_pair.standby.url(replica_pair.database),
        REPLICA_READ_YOUR_WRITES_SECONDS=str(PIN_SECONDS),
        REPLICA_RETRY_SECONDS=str(RETRY_SECONDS),
        LOG_LEVEL="INFO",
        DJANGO_SETTINGS_MODULE="tests.replica.server_settings",
    ) as app:
        replica_pair.wait_replayed()
        yield app


class Client:
    """An HTTP client with its own cookie jar (one browser, or one API client); redirects
    are not followed, so each answer is seen as sent."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str]:
        sent = dict(headers or {})
        data = None
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data, sent["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data, sent, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, text = self.request(method, path, json_body=body)
        return status, json.loads(text) if text else None

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def forget_cookie(self, name: str) -> None:
        for cookie in list(self.cookies):
            if cookie.name == name:
                self.cookies.clear(cookie.domain, cookie.path, cookie.name)

    def sign_in(self, username: str, password: str) -> None:
        self.request("GET", "/login/")
        status, headers, _ = self.request(
            "POST",
            "/login/",
            form={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookie("csrftoken") or "",
            },
        )
        assert status == 302, status
        assert headers["Location"] != "/login/"

    def csrf_form(self, page: str, **fields: str) -> dict[str, str]:
        """``fields`` plus the CSRF token and the one-time form token of ``page``."""
        token = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
        return {
            **fields,
            "csrfmiddlewaretoken": self.cookie("csrftoken") or "",
            "form_token": token.group(1) if token else "",
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def server_log(app: LiveApp) -> str:
    return Path(app.server_log).read_text(errors="replace") if app.server_log else ""
