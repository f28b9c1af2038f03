"""The pool's connection check against a real PostgreSQL: a healthy idle connection
passes, one whose server process was terminated or one left in a transaction is refused
(so the pool replaces it)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from segments.db_pool import check_pooled_connection

pytestmark = pytest.mark.django_db(transaction=True)


def _connect() -> psycopg.Connection:
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


def test_a_healthy_idle_connection_passes_without_a_round_trip() -> None:
    with _connect() as pooled, _connect() as admin:
        pooled.execute("SELECT 'last statement'")
        check_pooled_connection(pooled)
        last = admin.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [pooled.info.backend_pid]
        ).fetchone()
        assert last == ("SELECT 'last statement'",)
        assert pooled.execute("SELECT 1").fetchone() == (1,)


def test_a_connection_whose_server_process_was_terminated_is_refused() -> None:
    with _connect() as pooled, _connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pooled.info.backend_pid])
        deadline = time.monotonic() + 5
        while (
            admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pooled.info.backend_pid]
            ).fetchone()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        with pytest.raises(psycopg.OperationalError):
            check_pooled_connection(pooled)


def test_a_connection_left_in_a_transaction_is_refused() -> None:
    with _connect() as pooled:
        pooled.autocommit = False
        pooled.execute("SELECT 1")
        with pytest.raises(psycopg.Error):
            check_pooled_connection(pooled)
