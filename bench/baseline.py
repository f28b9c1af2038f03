"""The bare baseline: a minimal WSGI app that runs, for each scenario, the same SQL the
Django app ran for it (captured by ``bench/run.py`` into ``BENCH_BASELINE_FILE``) through
one psycopg connection per worker, and serialises the rows with orjson. Served by gunicorn
with the same worker settings as the app, it is the floor the app is compared with.

``GET /<scenario>`` answers ``{"results": [[row, ...], ...]}``; ``HEAD /<scenario>``
answers 204 with ``X-Total-Count`` (the first column of the last statement), like the
count routes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

_statements: dict[str, list[str]] = {}
_connection: psycopg.Connection | None = None


def _load() -> dict[str, list[str]]:
    if not _statements:
        with open(os.environ["BENCH_BASELINE_FILE"], "rb") as handle:
            _statements.update(orjson.loads(handle.read()))
    return _statements


def _conn() -> psycopg.Connection:
    """One connection per worker process, opened after the fork, in autocommit."""
    global _connection
    if _connection is None or _connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        _connection = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    return _connection


def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """Run the scenario's statements; 404 for an unknown scenario."""
    name = environ.get("PATH_INFO", "/").strip("/")
    statements = _load().get(name)
    if statements is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown scenario"]
    results = []
    with _conn().cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, prepare=False)
            results.append(cursor.fetchall() if cursor.description else [])
    if environ.get("REQUEST_METHOD") == "HEAD":
        last = results[-1][0] if results and results[-1] else {}
        total = next(iter(last.values()), 0) if last else 0
        start_response("204 No Content", [("X-Total-Count", str(total))])
        return [b""]
    body = orjson.dumps({"results": results}, default=str)
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
