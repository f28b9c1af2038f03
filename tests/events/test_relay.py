"""The relay against the real RabbitMQ and PostgreSQL: binary-mode CloudEvents, confirmed
before marked; refused messages back off and die; a relay killed between publish and mark
sends again with the same ``ce-id``; a broker that cannot be reached loses nothing; two
relays at once keep each subject's order; SIGTERM ends it cleanly; a commit wakes it; a
row whose confirm did not come is not marked; a claim locks only its batch's subjects; a
subject backing off holds back its own later rows and no other subject's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from segments import services
from segments.models import Event, EventStatus
from segments.relay import Publisher, Relay, claim, relay_batch
from tests.events.conftest import BROKER_URL, CLOSED_BROKER_URL, Broker
from tests.factories import LedgerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
ROOT = Path(__file__).resolve().parents[2]
HOUR = timedelta(hours=1)


def relay_once(url: str, exchange: str) -> int:
    return Relay(Publisher(url, exchange), once=True).run()


def segments_with_changes(organization, subjects: int, changes: int) -> list:
    """``subjects`` segments, each created and then renamed ``changes`` times."""
    ledger = LedgerFactory(organization=organization)
    made = [services.create_segment(None, ledger, name=f"S{n}") for n in range(subjects)]
    for round_ in range(changes):
        for segment in made:
            services.update_segment(None, segment, {"name": f"S{segment.name}-{round_}"})
    return made


def assert_per_subject_order(messages: list[dict]) -> None:
    by_subject: dict[str, list[str]] = {}
    for message in messages:
        by_subject.setdefault(message["headers"]["ce-subject"], []).append(
            message["headers"]["ce-id"]
        )
    for ids in by_subject.values():
        assert ids == sorted(ids)


def relay_process(broker_exchange: str, *args: str, **env: str) -> subprocess.Popen:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "segments_console.test_settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "EVENTS_BROKER_URL": BROKER_URL,
        "EVENTS_EXCHANGE": broker_exchange,
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "relay_events", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db
def test_an_event_goes_out_in_binary_mode_and_is_marked_after_its_confirm(tenant, broker: Broker):
    ledger = LedgerFactory(organization=tenant.organization)
    segment = services.create_segment(None, ledger, name="Gold")
    event = Event.objects.get(subject=str(segment.pk))
    assert relay_once(BROKER_URL, broker.exchange) == 1
    (message,) = broker.drain(1)
    assert message["headers"] == {
        "ce-specversion": "1.0",
        "ce-id": str(event.pk),
        "ce-source": "ledger",
        "ce-type": "studio.lerian.ledger.segment.created",
        "ce-subject": str(segment.pk),
        "ce-time": event.data["createdAt"],
        "ce-tenantid": str(tenant.organization.pk),
        "ce-schemaversion": "1.0.0",
    }
    assert message["content_type"] == "application/json" and message["persistent"]
    assert message["routing_key"] == "segment.created"
    assert message["body"] == event.data
    event.refresh_from_db()
    assert event.status == EventStatus.PUBLISHED and event.published_at is not None


@pytest.mark.django_db
def test_an_unroutable_message_is_not_published_and_backs_off(tenant, unbound_exchange, settings):
    (segment,) = segments_with_changes(tenant.organization, subjects=1, changes=1)
    result = relay_batch(Publisher(BROKER_URL, unbound_exchange))
    assert result.claimed == 2 and result.refused == 1 and result.published == []
    first, second = Event.objects.filter(subject=str(segment.pk)).order_by("id")
    assert first.status == EventStatus.PENDING and first.attempts == 1
    assert first.next_attempt_at > timezone.now() and "Unroutable" in first.last_error
    assert second.attempts == 0  # held back behind the first, not tried
    assert relay_batch(Publisher(BROKER_URL, unbound_exchange)).claimed == 0  # backing off
    settings.EVENTS_MAX_ATTEMPTS = 2
    Event.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    relay_batch(Publisher(BROKER_URL, unbound_exchange))
    first.refresh_from_db()
    assert first.status == EventStatus.DEAD and first.attempts == 2


@pytest.mark.django_db
def test_an_unreachable_broker_loses_nothing_and_keeps_each_subjects_order(tenant, broker: Broker):
    segments_with_changes(tenant.organization, subjects=5, changes=19)  # 100 events
    assert relay_once(CLOSED_BROKER_URL, broker.exchange) == 0
    assert Event.objects.filter(status=EventStatus.PENDING, attempts=0).count() == 100
    assert relay_once(BROKER_URL, broker.exchange) == 100
    messages = broker.drain(100)
    assert len(messages) == 100 and len(set(broker.ids())) == 100
    assert set(broker.ids()) == {str(pk) for pk in Event.objects.values_list("pk", flat=True)}
    assert_per_subject_order(messages)
    assert not Event.objects.exclude(status=EventStatus.PUBLISHED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_relay_killed_between_publish_and_mark_sends_again_with_the_same_id(
    tenant, broker: Broker
):
    ledger = LedgerFactory(organization=tenant.organization)
    segment = services.create_segment(None, ledger, name="Gold")
    event = Event.objects.get(subject=str(segment.pk))
    paused = relay_process(broker.exchange, "--once", EVENTS_RELAY_PAUSE_AFTER_PUBLISH="60")
    try:
        (first,) = broker.drain(1, timeout=20)
    finally:
        paused.send_signal(signal.SIGKILL)
        paused.wait(10)
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING  # confirmed, but never marked
    again = relay_process(broker.exchange, "--once")
    assert again.wait(30) == 0, again.stderr.read()
    second = broker.drain(2)[1]
    assert first["headers"]["ce-id"] == second["headers"]["ce-id"] == str(event.pk)
    event.refresh_from_db()
    assert event.status == EventStatus.PUBLISHED


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_deliver_every_event_once_in_each_subjects_order(tenant, broker: Broker):
    segments_with_changes(tenant.organization, subjects=40, changes=4)  # 200 events
    relays = [
        relay_process(broker.exchange, "--batch", "10", EVENTS_RELAY_PAUSE_AFTER_PUBLISH="0.01")
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while Event.objects.exclude(status=EventStatus.PUBLISHED).exists():
            assert time.monotonic() < deadline, "the relays did not publish everything"
            time.sleep(0.2)
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
    for relay in relays:
        assert relay.wait(30) == 0, relay.stderr.read()
    published = [int(relay.stdout.read().split()[1]) for relay in relays]
    assert sum(published) == 200 and min(published) > 0  # both took part
    messages = broker.drain(200)
    assert len(messages) == 200 and len(set(broker.ids())) == 200
    assert_per_subject_order(messages)


@pytest.mark.django_db(transaction=True)
def test_a_commit_wakes_the_relay_and_sigterm_ends_it_cleanly(tenant, broker: Broker):
    relay = relay_process(broker.exchange, "--poll", "30")
    try:
        time.sleep(2)  # listening
        ledger = LedgerFactory(organization=tenant.organization)
        started = time.monotonic()
        services.create_segment(None, ledger, name="Gold")
        (message,) = broker.drain(1, timeout=10)
        assert time.monotonic() - started < 5  # far below the 30 s poll
        assert message["routing_key"] == "segment.created"
    finally:
        relay.send_signal(signal.SIGTERM)
        code = relay.wait(15)
    assert code == 0, relay.stderr.read()
    assert "published 1 event(s)" in relay.stdout.read()


@pytest.mark.django_db(transaction=True)
def test_sigterm_ends_a_relay_backing_off_from_an_unreachable_broker_at_once(tenant, broker):
    segments_with_changes(tenant.organization, subjects=1, changes=1)
    relay = relay_process(broker.exchange, EVENTS_BROKER_URL=CLOSED_BROKER_URL)
    try:
        time.sleep(8)  # 1 + 2 + 4 s of backoff behind it, into the 8 s one
    finally:
        relay.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code = relay.wait(15)
    assert time.monotonic() - stopped < 3, "SIGTERM waited out the backoff"
    assert code == 0, relay.stderr.read()
    assert "broker unavailable" in relay.stderr.read()
    assert not Event.objects.exclude(status=EventStatus.PENDING).exists()  # nothing lost


def test_the_relay_refuses_to_start_without_a_broker_url():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "segments_console.test_settings"}
    environment.pop("EVENTS_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "relay_events"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "EVENTS_BROKER_URL is not set" in done.stderr


@pytest.mark.django_db
def test_a_row_whose_confirm_did_not_come_is_not_marked_and_goes_out_later(tenant, broker: Broker):
    segments_with_changes(tenant.organization, subjects=10, changes=9)  # 100 events
    hasty = Publisher(BROKER_URL, broker.exchange, confirm_timeout=0)  # gives up at once
    result = relay_batch(hasty)
    assert result.claimed == 100 and result.lost is not None
    marked = {str(pk) for pk in result.published}
    unmarked = Event.objects.filter(status=EventStatus.PENDING)
    assert len(marked) + unmarked.count() == 100
    assert not unmarked.exclude(attempts=0).exists()  # no attempt counted
    assert relay_once(BROKER_URL, broker.exchange) == 100 - len(marked)
    messages = broker.drain(100 + (100 - len(marked)), timeout=3)
    assert set(broker.ids()) == {str(pk) for pk in Event.objects.values_list("pk", flat=True)}
    assert marked <= set(broker.ids()[: len(messages)])
    assert not Event.objects.exclude(status=EventStatus.PUBLISHED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_claim_locks_only_its_batch_so_a_second_relay_takes_the_next_subjects(tenant):
    segments_with_changes(tenant.organization, subjects=30, changes=1)  # 60 events
    first_claim: list = []
    holding, done = threading.Event(), threading.Event()

    def first_relay() -> None:
        try:
            with transaction.atomic():
                first_claim.extend(claim(10))
                holding.set()
                done.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=first_relay)
    thread.start()
    try:
        assert holding.wait(30)
        with transaction.atomic():
            second_claim = claim(10)
    finally:
        done.set()
        thread.join(30)
    assert len(first_claim) == len(second_claim) == 10
    first_subjects = {event.subject for event in first_claim}
    assert first_subjects.isdisjoint(event.subject for event in second_claim)
    everything = list(Event.objects.order_by("id").values_list("pk", flat=True))
    assert [event.pk for event in first_claim] == everything[:10]  # id order


@pytest.mark.django_db
def test_a_subject_backing_off_holds_its_later_rows_but_not_the_others(
    tenant, broker: Broker, unbound_exchange
):
    held, other = segments_with_changes(tenant.organization, subjects=2, changes=1)
    Event.objects.filter(subject=str(other.pk)).update(next_attempt_at=timezone.now() + HOUR)
    assert relay_batch(Publisher(BROKER_URL, unbound_exchange)).refused == 1  # held's first
    Event.objects.filter(subject=str(other.pk)).update(next_attempt_at=timezone.now())
    services.update_segment(None, held, {"name": "Held again"})  # a third row, due now
    assert relay_once(BROKER_URL, broker.exchange) == 2  # the other subject's two rows only
    assert {m["headers"]["ce-subject"] for m in broker.drain(2)} == {str(other.pk)}
    Event.objects.filter(subject=str(held.pk), attempts=1).update(next_attempt_at=timezone.now())
    assert relay_once(BROKER_URL, broker.exchange) == 3
    broker.drain(5)
    rows = list(Event.objects.filter(subject=str(held.pk)).values_list("pk", flat=True))
    assert broker.ids()[2:] == [str(pk) for pk in rows]  # in order, once the first went
