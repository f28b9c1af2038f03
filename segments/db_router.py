"""Read replicas: ``ReplicaRouter`` sends reads to the ``replica`` database alias and
everything else to ``default`` (the primary).

Rules:

- writes always go to the primary; the replica is never migrated;
- a read goes to the replica only when it cannot miss the caller's own writes, i.e. not
  inside a transaction on the primary (``transaction.atomic``: services read what they lock
  and write), and not after the same request (or, outside requests, the same thread) has
  written: from its first write on, that request reads from the primary ("read your
  writes"); the next request starts on the replica again;
- with no ``replica`` alias configured, the router says nothing and Django uses
  ``default``.

It is wired in ``segments_console/settings.py`` only when ``REPLICA_DATABASE_URL`` is set.
A replica lags the primary by its replication delay: lists and details read there may be
that much behind another client's write, never behind the caller's own.
"""

from __future__ import annotations

import contextvars
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_DB_ALIAS = "replica"

_wrote: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_router_wrote", default=False)


def replica_configured() -> bool:
    return REPLICA_DB_ALIAS in connections.settings


def reset_read_your_writes(**kwargs: Any) -> None:
    """Forget earlier writes: the next reads may use the replica again."""
    _wrote.set(False)


request_started.connect(reset_read_your_writes, dispatch_uid="replica_router_request_started")
request_finished.connect(reset_read_your_writes, dispatch_uid="replica_router_request_finished")


class ReplicaRouter:
    """Reads to ``replica`` unless in a transaction or after a write; writes to ``default``."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not replica_configured():
            return None
        if _wrote.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return REPLICA_DB_ALIAS

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
