"""Races through the real HTTP stack: JSON calls to a live server (one thread and one
PostgreSQL connection per request) and clients released at the same instant."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def call(method: str, url: str, token: str, body=None, headers=None) -> tuple[int, dict]:
    """One JSON request with a Bearer token; the status and the parsed body (also on 4xx
    and 5xx)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else {}


def at_once(count: int, work: Callable[[int], Any]) -> list:
    """Run ``work(i)`` in ``count`` threads released together by a barrier; the results in
    order (an exception a thread raised takes its place)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # reported by the caller, never lost in a thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
