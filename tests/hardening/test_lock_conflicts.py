"""A lost race for locks is never "database unavailable" (issue 10, item 4): a service
that PostgreSQL picks as a deadlock victim runs once more, a second loss answers 409
``9009``, and only a database that cannot be reached answers 503 ``9008``."""

from __future__ import annotations

import threading
import time

import psycopg.errors
import pytest
from django.db import OperationalError, connection, transaction
from rest_framework.test import APIClient

from segments import errors
from segments.locking import atomic_service
from segments.models import Account, Role, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)
from tests.testing.live_http import call


def lock_conflict(cause: Exception) -> OperationalError:
    """A lock conflict as Django raises it: psycopg's error wrapped as OperationalError."""
    try:
        try:
            raise cause
        except Exception as driver_error:
            raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as wrapped:
        return wrapped


def waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deadlock_victim_is_retried_inside_the_service_and_succeeds(live_server):
    """Another transaction holds the account and then asks for the segment, while the
    bulk assignment holds the segment and waits for the account: PostgreSQL aborts the
    assignment (its deadlock_timeout fires first). Before the fix the client got 503 9008;
    now the service runs again once the other transaction is gone, and answers 200."""
    ledger = LedgerFactory()
    user = UserFactory()
    member(user, ledger.organization, Role.OPERATOR)
    segment = SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger)
    base = f"{live_server.url}/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
    holding, blocked, failures = threading.Event(), threading.Event(), []

    def intruder() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")
                cursor.execute(
                    "SELECT 1 FROM segments_account WHERE id = %s FOR UPDATE", [account.pk]
                )
                holding.set()
                blocked.wait(timeout=20)
                cursor.execute(
                    "SELECT 1 FROM segments_segment WHERE id = %s FOR UPDATE", [segment.pk]
                )
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=intruder)
    thread.start()
    assert holding.wait(timeout=20)
    answer: list = []
    request = threading.Thread(
        target=lambda: answer.append(
            call(
                "POST",
                f"{base}/segments/{segment.pk}/members",
                token_for(user),
                {"accountIds": [str(account.pk)]},
            )
        )
    )
    request.start()
    deadline = time.monotonic() + 20
    while not waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    blocked.set()
    request.join(timeout=60)
    thread.join(timeout=60)
    assert failures == []
    status, body = answer[0]
    assert (status, body.get("accounts")) == (200, 1), body
    assert Account.objects.get(pk=account.pk).segment_id == segment.pk
    assert Segment.objects.get(pk=segment.pk).account_count == 1


@pytest.mark.django_db
def test_a_service_that_loses_the_race_twice_answers_concurrent_change():
    attempts: list[int] = []

    @atomic_service
    def always_deadlocked() -> None:
        attempts.append(1)
        raise lock_conflict(psycopg.errors.DeadlockDetected("deadlock detected"))

    with pytest.raises(errors.ConcurrentChange) as refused:
        always_deadlocked()
    assert len(attempts) == 2
    assert (refused.value.code, refused.value.http_status) == ("9009", 409)


@pytest.mark.django_db
def test_an_outage_inside_a_service_is_not_retried_and_stays_an_outage():
    attempts: list[int] = []

    @atomic_service
    def unreachable() -> None:
        attempts.append(1)
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        unreachable()
    assert len(attempts) == 1


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
)
def test_a_lock_conflict_reaching_the_api_answers_409_9009_not_503(
    cause, operator, organization, ledger, monkeypatch
):
    def conflicted(*args, **kwargs):
        raise lock_conflict(cause)

    monkeypatch.setattr("segments.selectors.segments_of", conflicted)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(operator)}")
    response = client.get(f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/segments")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["status"]) == ("9009", 409)
    assert "Retry-After" not in response
    assert "retry" in body["detail"].lower()


def test_a_lock_conflict_in_the_console_is_a_409_not_the_outage_page(
    client, operator, organization, ledger, monkeypatch
):
    def conflicted(*args, **kwargs):
        raise lock_conflict(psycopg.errors.DeadlockDetected("deadlock detected"))

    monkeypatch.setattr("segments.selectors.segments_of", conflicted)
    client.force_login(operator)
    response = client.get(f"/organizations/{organization.pk}/ledgers/{ledger.pk}/segments/")
    assert response.status_code == 409
    assert "Temporarily unavailable" not in response.content.decode()
