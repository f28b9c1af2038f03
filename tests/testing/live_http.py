"""JSON calls to a live server through the real HTTP stack (one thread and one PostgreSQL
connection per request); ``tests.testing.threads.at_once`` releases many at the same
instant."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


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
