"""Read replicas (issue #7): with a ``replica`` alias configured, ``ReplicaRouter`` sends
list and detail reads there and every write, and every read that must see the caller's
own writes, to the primary.

The replica here is a second connection to the same PostgreSQL test database (what
``TEST: {"MIRROR": "default"}`` gives in a test run), so rows committed through the primary
are really read back through the replica's connection. ``tests/replica/`` proves the same
rules, the recent-write cookie and the fallback to the primary against a real streaming
standby, over HTTP."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import pytest
from django.core.signals import request_finished, request_started
from django.db import connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from segments import selectors, services
from segments.db_router import REPLICA_DB_ALIAS, ReplicaRouter, reset_read_your_writes
from segments.models import Account, Role, Segment
from tests.factories import LedgerFactory, OrganizationFactory, UserFactory, member

ROOT = Path(__file__).resolve().parent.parent
ROUTERS = ["segments.db_router.ReplicaRouter"]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", REPLICA_DB_ALIAS]),
]


@pytest.fixture(scope="module", autouse=True)
def replica(django_db_setup) -> Iterator[str]:
    """A ``replica`` alias: its own connection to the primary's test database. Module
    scoped so that it exists before each test's database access is set up."""
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "MIRROR": "default"}
    connections.settings[REPLICA_DB_ALIAS] = settings_dict
    try:
        with override_settings(DATABASE_ROUTERS=ROUTERS):
            yield REPLICA_DB_ALIAS
    finally:
        replica_connection = connections[REPLICA_DB_ALIAS]
        replica_connection.close()
        if hasattr(replica_connection, "close_pool"):
            replica_connection.close_pool()
        del connections[REPLICA_DB_ALIAS]
        del connections.settings[REPLICA_DB_ALIAS]
        reset_read_your_writes()


@pytest.fixture(autouse=True)
def fresh_request() -> None:
    reset_read_your_writes()


@pytest.fixture
def tenant(db):
    """A ledger with one segment holding one account, and an operator of its organization,
    written (and committed) through the primary by an earlier request."""
    organization = OrganizationFactory(legal_name="Replica Bank")
    ledger = LedgerFactory(organization=organization, name="Cards")
    user = UserFactory(username="reader")
    member(user, organization, Role.OPERATOR)
    segment = services.create_segment(user, ledger, name="Black")
    services.create_account(
        user, ledger, type="deposit", asset_code="BRL", alias="@one", segment_id=segment.pk
    )
    request_started.send(sender=None)  # the test runs as the next request
    return {"organization": organization, "ledger": ledger, "user": user, "segment": segment}


def _capture_both():
    return (
        CaptureQueriesContext(connections["default"]),
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]),
    )


def test_list_reads_go_to_the_replica(tenant):
    on_primary, on_replica = _capture_both()
    with on_primary, on_replica:
        page = selectors.paginate(
            selectors.list_segments(
                tenant["user"], tenant["organization"], tenant["ledger"], {"limit": "10"}
            ),
            {"limit": "10"},
        )
    assert [segment.name for segment in page.items] == ["Black"]
    assert page.items[0].account_count == 1
    assert page.items[0]._state.db == REPLICA_DB_ALIAS
    assert len(on_replica.captured_queries) >= 1
    assert on_primary.captured_queries == []


def test_detail_reads_go_to_the_replica(tenant):
    on_primary, on_replica = _capture_both()
    with on_primary, on_replica:
        segment = selectors.get_segment(
            tenant["user"], tenant["organization"].pk, tenant["ledger"].pk, tenant["segment"].pk
        )
        counts = selectors.member_counts(segment)
    assert segment.name == "Black"
    assert counts["accounts"] == 1
    assert segment._state.db == REPLICA_DB_ALIAS
    assert on_replica.captured_queries
    assert on_primary.captured_queries == []


def test_writes_go_to_the_primary(tenant):
    on_primary, on_replica = _capture_both()
    with on_primary, on_replica:
        created = services.create_segment(tenant["user"], tenant["ledger"], name="Student")
    assert created._state.db == "default"
    assert any(q["sql"].startswith("INSERT") for q in on_primary.captured_queries)
    assert on_replica.captured_queries == []
    assert Segment.objects.using("default").filter(name="Student").exists()


def test_reads_inside_a_transaction_stay_on_the_primary(tenant):
    on_primary, on_replica = _capture_both()
    with on_primary, on_replica, transaction.atomic():
        assert Account.objects.filter(segment=tenant["segment"]).count() == 1
    assert on_primary.captured_queries
    assert on_replica.captured_queries == []


def test_a_request_reads_its_own_writes_then_the_next_one_uses_the_replica(tenant):
    request_started.send(sender=None)
    services.update_segment(tenant["user"], tenant["segment"], {"description": "Premium"})
    assert ReplicaRouter().db_for_read(Segment) == "default"
    segment = Segment.objects.get(pk=tenant["segment"].pk)
    assert segment.description == "Premium"
    assert segment._state.db == "default"
    request_finished.send(sender=None)
    request_started.send(sender=None)
    assert ReplicaRouter().db_for_read(Segment) == REPLICA_DB_ALIAS
    assert Segment.objects.get(pk=tenant["segment"].pk)._state.db == REPLICA_DB_ALIAS


def test_the_replica_is_never_migrated():
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA_DB_ALIAS, "segments") is False
    assert router.allow_migrate("default", "segments") is None


def test_without_a_replica_the_router_leaves_reads_on_default():
    with patch.dict(connections.settings):
        del connections.settings[REPLICA_DB_ALIAS]
        assert ReplicaRouter().db_for_read(Segment) is None


def test_settings_wire_the_router_only_when_a_replica_url_is_set():
    code = (
        "import json, segments_console.settings as s; "
        "print(json.dumps([getattr(s, 'DATABASE_ROUTERS', []), sorted(s.DATABASES)]))"
    )
    base = {k: v for k, v in os.environ.items() if k != "REPLICA_DATABASE_URL"}
    base.update(SECRET_KEY="x", DATABASE_URL="postgres://u@127.0.0.1:5432/primary")
    without = subprocess.run(
        [sys.executable, "-c", code], env=base, cwd=ROOT, capture_output=True, text=True
    )
    with_replica = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "REPLICA_DATABASE_URL": "postgres://u@127.0.0.1:5433/primary"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert without.returncode == 0, without.stderr
    assert with_replica.returncode == 0, with_replica.stderr
    assert without.stdout.strip() == '[[], ["default"]]'
    assert with_replica.stdout.strip() == (
        '[["segments.db_router.ReplicaRouter"], ["default", "replica"]]'
    )
