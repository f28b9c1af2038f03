"""Read replicas: ``ReplicaRouter`` sends reads to the ``replica`` database alias and
everything else to ``default`` (the primary).

Rules:

- writes always go to the primary; the replica is never migrated;
- a read goes to the replica only when it cannot miss the caller's own writes, i.e. not
  inside a transaction on the primary (``transaction.atomic``: services read what they lock
  and write), not in a request that writes (any method but GET, HEAD, OPTIONS, TRACE:
  its lookups and checks must see the latest rows), not after the same request (or,
  outside requests, the same thread) has written ("read your writes"), and not in the
  ``REPLICA_READ_YOUR_WRITES_SECONDS`` after a client's write: a response to a request
  that wrote sets a short-lived cookie that pins that client's reads to the primary, so
  the page refreshed or redirected to after a write shows it whatever the replica's lag;
- when the replica cannot be reached, reads fall back to the primary: one WARNING on
  ``segments.db_router``, then no new attempt for ``REPLICA_RETRY_SECONDS`` (requests do
  not wait for a dead replica), then one try again; the replica connection has a short
  ``connect_timeout`` (``segments_console/settings.py``);
- with no ``replica`` alias configured, the router says nothing and Django uses
  ``default``.

It is wired in ``segments_console/settings.py`` only when ``REPLICA_DATABASE_URL`` is set.
A replica lags the primary by its replication delay: lists and details read there may be
that much behind another client's write, never behind the caller's own.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, Error, connections
from django.http import HttpRequest, HttpResponse

REPLICA_DB_ALIAS = "replica"
PIN_COOKIE = "segments_read_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

logger = logging.getLogger(__name__)

_wrote: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_router_wrote", default=False)
_pinned: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "replica_router_pinned", default=False
)


def replica_configured() -> bool:
    return REPLICA_DB_ALIAS in connections.settings


def read_your_writes_seconds() -> int:
    return int(getattr(settings, "REPLICA_READ_YOUR_WRITES_SECONDS", 10))


def reset_read_your_writes(**kwargs: Any) -> None:
    """Forget earlier writes and pins: the next reads may use the replica again."""
    _wrote.set(False)
    _pinned.set(False)


request_started.connect(reset_read_your_writes, dispatch_uid="replica_router_request_started")
request_finished.connect(reset_read_your_writes, dispatch_uid="replica_router_request_finished")


@contextlib.contextmanager
def bookkeeping_write() -> Iterator[None]:
    """A write the rest of the request never reads back (an API token's last-use time):
    it leaves the request's reads, and the client's next ones, on the replica."""
    wrote = _wrote.get()
    try:
        yield
    finally:
        _wrote.set(wrote)


class _ReplicaHealth:
    """Whether the replica answers, per process; after a failure, no new attempt for
    ``REPLICA_RETRY_SECONDS``."""

    def __init__(self) -> None:
        self.retry_at = 0.0
        self.down = False
        self.lock = threading.Lock()

    def available(self) -> bool:
        if self.down and time.monotonic() < self.retry_at:
            return False
        connection = connections[REPLICA_DB_ALIAS]
        try:
            connection.close_if_health_check_failed()
            connection.ensure_connection()
        except Error as error:
            connection.close()
            retry = float(getattr(settings, "REPLICA_RETRY_SECONDS", 30))
            with self.lock:
                self.down, self.retry_at = True, time.monotonic() + retry
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            logger.warning(
                "Read replica unavailable (%s); reads fall back to the primary, next try in %g s.",
                reason,
                retry,
            )
            return False
        if self.down:
            with self.lock:
                self.down = False
            logger.info("Read replica available again; reads go to the replica.")
        return True


replica_health = _ReplicaHealth()


class ReplicaRouter:
    """Reads to ``replica`` unless they must see the caller's writes (see the module's
    rules) or the replica is down; writes to ``default``."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not replica_configured():
            return None
        if _wrote.get() or _pinned.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return REPLICA_DB_ALIAS if replica_health.available() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str:
        _wrote.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        """Rows read from either alias are the same rows: relations between them are fine."""
        aliases = {DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        """Only the primary is migrated; the replica follows it by replication."""
        if db == REPLICA_DB_ALIAS:
            return False
        return None


def _pin_is_valid(value: str | None, now: float, window: int) -> bool:
    """The cookie holds the time (seconds since the epoch) until which reads stay on the
    primary; a value further ahead than one window is not ours and pins nothing."""
    try:
        until = int(value or "")
    except ValueError:
        return False
    return now < until <= now + window


class ReadYourWritesMiddleware:
    """Pins a request's reads to the primary when it may write (unsafe method) or when
    the client wrote within the last ``REPLICA_READ_YOUR_WRITES_SECONDS`` (the cookie);
    sets that cookie on the response to every request that wrote. Installed before the
    session middleware, so the session it saves counts as the request's write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        window = read_your_writes_seconds()
        now = time.time()
        _pinned.set(
            request.method not in SAFE_METHODS
            or _pin_is_valid(request.COOKIES.get(PIN_COOKIE), now, window)
        )
        response = self.get_response(request)
        if _wrote.get() and window > 0:
            response.set_cookie(
                PIN_COOKIE,
                str(int(now) + window),
                max_age=window,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
