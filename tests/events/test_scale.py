"""The outbox at scale, against the real RabbitMQ and PostgreSQL: one bulk assignment of
250,000 accounts becomes at most 250 ``segment.members.changed`` messages on the broker
(1,000 ids each, every moved account in exactly one of them), not 250,000."""

from __future__ import annotations

import pytest
from django.db import connection

from segments import services
from segments.models import Account
from segments.relay import Publisher, Relay
from tests.events.conftest import BROKER_URL, Broker
from tests.factories import LedgerFactory, SegmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
ACCOUNTS = 250_000


def bulk_accounts(ledger, count: int) -> None:
    """``count`` live accounts of ``ledger`` in no segment, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Account._meta.db_table} (id, status_code, metadata, created_at, "
            "updated_at, type, asset_code, blocked, ledger_id, organization_id) "
            "SELECT gen_random_uuid(), 'ACTIVE', '{}'::jsonb, now(), now(), 'deposit', "
            "'BRL', false, %s, %s FROM generate_series(1, %s)",
            [ledger.pk, ledger.organization_id, count],
        )


@pytest.mark.django_db
def test_a_250k_account_membership_change_is_at_most_250_messages(tenant, broker: Broker):
    ledger = LedgerFactory(organization=tenant.organization)
    segment = SegmentFactory(ledger=ledger)
    bulk_accounts(ledger, ACCOUNTS)
    relay = Relay(Publisher(BROKER_URL, broker.exchange), once=True)
    broker.drain(relay.run(), timeout=2)  # whatever the fixtures wrote
    before = len(broker.received)

    moved = services.assign_accounts_matching(None, segment, Account.objects.filter(ledger=ledger))

    assert moved["accounts"] == ACCOUNTS
    assert Relay(Publisher(BROKER_URL, broker.exchange), once=True).run() == 250
    messages = broker.drain(before + 251, timeout=3)[before:]  # waits: no 251st comes
    assert len(messages) == 250
    assert {m["routing_key"] for m in messages} == {"segment.members.changed"}
    assert {m["headers"]["ce-subject"] for m in messages} == {str(segment.pk)}
    assert [m["body"]["part"] for m in messages] == list(range(1, 251))
    assert {m["body"]["parts"] for m in messages} == {250}
    added = [pk for m in messages for pk in m["body"]["added"]["accounts"]]
    assert max(len(m["body"]["added"]["accounts"]) for m in messages) == 1000
    assert len(added) == len(set(added)) == ACCOUNTS
    members = Account.objects.filter(segment=segment).values_list("pk", flat=True)
    assert set(added) == {str(pk) for pk in members}
