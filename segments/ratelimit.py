"""Sign-in throttling: after too many failed sign-ins for one username or from one
address within the window, further attempts are refused until the window passes, even
with the right password."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest

LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_SECONDS = 15 * 60


def _keys(request: HttpRequest, username: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "unknown")
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{name}", f"login-fail:addr:{address}"]


def login_blocked(request: HttpRequest, username: str) -> bool:
    """Whether this username or this address used up its failed sign-ins."""
    return any(
        cache.get(key, 0) >= LOGIN_FAILURES_ALLOWED * (4 if ":addr:" in key else 1)
        for key in _keys(request, username)
    )


def record_login_failure(request: HttpRequest, username: str) -> None:
    for key in _keys(request, username):
        cache.add(key, 0, LOGIN_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOGIN_WINDOW_SECONDS)


def clear_login_failures(request: HttpRequest, username: str) -> None:
    cache.delete(_keys(request, username)[0])
