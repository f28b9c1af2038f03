"""Issue #15 item 4: a segment's history tab says whether each change went out to other
systems — "Sent" (its events all published), "Waiting to be sent" (one still pending),
"Failed — not sent" (one dead) — and nothing for an entry without events. An entry's
events are those written in its transaction about its segment or the segment's benefits
(``segments.event_delivery``); the tab costs the same queries whatever its length.

The markers are made by the relay itself (``manage.py relay_events --once`` against the
real RabbitMQ: a bound exchange publishes, an unbound one refuses until the row is dead)
and by the admin's retry service."""

from __future__ import annotations

import io
import re
import signal
import uuid

import pika
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments import services
from segments.models import Account, Event, EventStatus, SegmentHistory
from segments.services.events import retry_dead_events
from tests.console.conftest import url
from tests.events.conftest import BROKER_URL, broker_answers
from tests.factories import AccountFactory, UserFactory

CASHBACK = {"percentage": "2.5", "assetCode": "BRL", "cap": {"amount": "50.00", "period": "month"}}
MARKER = re.compile(r'data-delivery="(\w+)">([^<]+)</span>')


def markers(client, segment) -> list[tuple[str, str]]:
    """Each entry's marker on the segment's history tab, newest entry first."""
    kwargs = {"organization_id": segment.organization_id, "segment_id": segment.pk}
    page = client.get(url("segment_history", ledger_id=segment.ledger_id, **kwargs))
    assert page.status_code == 200
    return MARKER.findall(page.content.decode())


@pytest.fixture
def exchanges(settings):
    """A topic exchange with a queue bound to ``#`` (every message routed) and one with
    no queue (every message unroutable), both this test's, and the broker's URL set."""
    if not broker_answers():
        pytest.skip("RabbitMQ does not answer at 127.0.0.1:5672")
    settings.EVENTS_BROKER_URL = BROKER_URL
    name = f"test.delivery.{uuid.uuid4().hex[:12]}"
    broker = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = broker.channel()
    for exchange in (f"{name}.bound", f"{name}.unbound"):
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    channel.queue_declare(name, exclusive=True)
    channel.queue_bind(name, f"{name}.bound", routing_key="#")
    yield {"bound": f"{name}.bound", "unbound": f"{name}.unbound"}
    for exchange in (f"{name}.bound", f"{name}.unbound"):
        channel.exchange_delete(exchange)
    broker.close()


def relay_once(settings, exchange: str) -> None:
    """``manage.py relay_events --once`` to ``exchange`` (its signal handlers put back)."""
    settings.EVENTS_EXCHANGE = exchange
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        call_command("relay_events", "--once", stdout=io.StringIO())
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


SENT = ("published", "Sent")
WAITING = ("pending", "Waiting to be sent")
FAILED = ("dead", "Failed — not sent")


@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_each_entry_says_whether_its_change_went_out(
    as_user, operator, ledger, exchanges, settings
):
    client = as_user(operator)
    segment = services.create_segment(operator, ledger, name="Black")
    relay_once(settings, exchanges["bound"])  # the creation is published
    services.update_segment(operator, segment, {"description": "refused"})
    settings.EVENTS_MAX_ATTEMPTS = 1
    relay_once(settings, exchanges["unbound"])  # the first update is unroutable: dead
    services.update_segment(operator, segment, {"description": "waiting"})
    assert markers(client, segment) == [WAITING, FAILED, SENT]
    dead = Event.objects.filter(status=EventStatus.DEAD).values_list("pk", flat=True)
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert retry_dead_events(staff, list(dead)) == 1
    assert markers(client, segment) == [WAITING, WAITING, SENT]
    relay_once(settings, exchanges["bound"])
    assert markers(client, segment) == [SENT, SENT, SENT]


@pytest.mark.django_db
def test_an_entry_without_events_shows_nothing(as_user, operator, ledger):
    segment = services.create_segment(operator, ledger, name="Black")
    services.update_segment(operator, segment, {"description": "changed"})
    assert markers(as_user(operator), segment) == [WAITING, WAITING]
    SegmentHistory.objects.filter(segment=segment, action="updated").update(txid=None)
    assert markers(as_user(operator), segment) == [WAITING]  # the creation only


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_entry_is_told_about_its_own_segment_and_its_benefits_only(as_user, operator, ledger):
    """One test transaction holds every change here: the entries are told apart by the
    subjects of their events (a member moved from Black to Gold is two entries, one each)."""
    black = services.create_segment(operator, ledger, name="Black")
    gold = services.create_segment(operator, ledger, name="Gold")
    account = AccountFactory(ledger=ledger)
    services.assign_members(operator, black, account_ids=[account.pk])
    services.update_account(operator, Account.objects.get(pk=account.pk), {"segment_id": gold.pk})
    client = as_user(operator)
    Event.objects.filter(subject=str(gold.pk)).update(status=EventStatus.DEAD)
    Event.objects.exclude(subject=str(gold.pk)).update(status=EventStatus.PUBLISHED)
    assert set(markers(client, black)) == {SENT}
    assert set(markers(client, gold)) == {FAILED}
    benefit = services.create_benefit(
        operator, black, name="Cashback", kind="cashback", parameters=CASHBACK
    )
    assert set(markers(client, black)) == {WAITING}  # the benefit's event, not yet sent
    assert Event.objects.filter(subject=str(benefit.pk), status=EventStatus.PENDING).exists()
    assert set(markers(client, gold)) == {FAILED}


@pytest.mark.django_db
def test_the_tab_costs_the_same_queries_for_few_or_many_entries(
    as_user, operator, ledger, django_assert_max_num_queries
):
    """A page of 20 entries with markers, whether the segment has 25 entries or 65: the
    markers are two queries for the page (the benefits' ids, then the events)."""
    segment = services.create_segment(operator, ledger, name="Black")
    services.create_benefit(
        operator, segment, name="Cashback", kind="cashback", parameters=CASHBACK
    )
    client = as_user(operator)

    def changes(count: int) -> None:
        for _ in range(count):
            services.update_segment(operator, segment, {"description": uuid.uuid4().hex})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert len(markers(client, segment)) == 20
        return len(captured)

    changes(23)
    with_25 = queries()
    changes(40)
    with django_assert_max_num_queries(with_25):
        queries()
