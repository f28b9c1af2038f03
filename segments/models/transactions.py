"""The database transaction that wrote a row: a column default, so that rows written in one
transaction say so without any service passing anything.

A segment's history entry and the outbox events of its change are written in the same
transaction (``shared/spec/events.md``: a committed change always has its events, a
rolled-back one none), so the same ``txid`` links them: ``segments.event_delivery`` reads
whether an entry's events went out. On PostgreSQL it is ``txid_current()`` — the top-level
transaction's id (a savepoint does not change it), with its epoch, so it never wraps
around. Elsewhere (the SQLite file of ``make run``) there is no such id: the column stays
null and nothing is linked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Func


class CurrentTransaction(Func):
    """``txid_current()`` on PostgreSQL, NULL on other databases."""

    function = "txid_current"
    arity = 0
    output_field = BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list]:
        if connection.vendor != "postgresql":
            return "NULL", []
        return super().as_sql(compiler, connection, **extra_context)


def transaction_field() -> BigIntegerField:
    """The nullable ``txid`` column: the writing transaction's id, set by the database."""
    return BigIntegerField(null=True, blank=True, editable=False, db_default=CurrentTransaction())
