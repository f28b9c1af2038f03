"""The relay against the real RabbitMQ and PostgreSQL: binary-mode CloudEvents, confirmed
before marked; refused messages back off and die; a relay killed between publish and mark
sends again with the same ``ce-id``; a broker that cannot be reached loses nothing; two
relays at once keep each subject's order; SIGTERM ends it cleanly; a commit wakes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from segments import services
from segments.models import Event, EventStatus
from segments.relay import Publisher, Relay, relay_batch
from tests.events.conftest import BROKER_URL, CLOSED_BROKER_URL, Broker
from tests.factories import LedgerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
ROOT = Path(__file__).resolve().parents[2]


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
        relay_process(broker.exchange, "--batch", "10", EVENTS_RELAY_PAUSE_AFTER_PUBLISH="0.002")
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
