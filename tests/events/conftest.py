"""Fixtures of the events tests: API clients, the real RabbitMQ (127.0.0.1:5672,
guest/guest) with an exchange and a queue of each test's own (parallel workers never
share one), and the relay pointed at them through settings.

A test marked ``rabbitmq`` that cannot reach the broker FAILS under CI or
``REQUIRE_POSTGRES=1`` (a missing service never skips quietly there) and skips loudly
elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pika
import pytest
from rest_framework.test import APIClient

from segments.models import Role
from tests.factories import OrganizationFactory, UserFactory, member, token_for

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
CLOSED_BROKER_URL = "amqp://guest:guest@127.0.0.1:5671/%2F"  # nothing listens there


def broker_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config, items):
    wanted = [item for item in items if "rabbitmq" in item.keywords]
    if not wanted or broker_answers():
        return
    message = "RabbitMQ does not answer at 127.0.0.1:5672 (rabbitmq-server -detached)"
    if os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES"):
        raise pytest.UsageError(message)
    for item in wanted:
        item.add_marker(pytest.mark.skip(reason=message))


@dataclass
class Broker:
    """An exchange and a queue bound to it with ``#``, both this test's."""

    exchange: str
    queue: str
    channel: object
    received: list = field(default_factory=list)

    def drain(self, expected: int, timeout: float = 10.0) -> list[dict]:
        """Wait for at least ``expected`` messages in all; each as
        ``{"headers", "content_type", "routing_key", "body", "persistent"}``."""
        for method, properties, body in self.channel.consume(
            self.queue, auto_ack=True, inactivity_timeout=timeout
        ):
            if method is None:
                break
            self.received.append(
                {
                    "headers": dict(properties.headers or {}),
                    "content_type": properties.content_type,
                    "routing_key": method.routing_key,
                    "body": json.loads(body),
                    "persistent": properties.delivery_mode == 2,
                }
            )
            if len(self.received) >= expected:
                break
        self.channel.cancel()
        return self.received

    def ids(self) -> list[str]:
        return [message["headers"]["ce-id"] for message in self.received]


@pytest.fixture
def broker(settings) -> Iterator[Broker]:
    """A fresh durable topic exchange with a bound queue, set as ``EVENTS_EXCHANGE``."""
    name = f"test.events.{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    channel.exchange_declare(name, exchange_type="topic", durable=True)
    channel.queue_declare(name, exclusive=True)
    channel.queue_bind(name, name, routing_key="#")
    settings.EVENTS_EXCHANGE, settings.EVENTS_BROKER_URL = name, BROKER_URL
    yield Broker(exchange=name, queue=name, channel=channel)
    channel.exchange_delete(name)
    connection.close()


@pytest.fixture
def unbound_exchange(settings) -> Iterator[str]:
    """A topic exchange no queue is bound to: every message to it is unroutable."""
    name = f"test.unbound.{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    channel.exchange_declare(name, exchange_type="topic", durable=True)
    settings.EVENTS_EXCHANGE, settings.EVENTS_BROKER_URL = name, BROKER_URL
    yield name
    channel.exchange_delete(name)
    connection.close()


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@dataclass
class Tenant:
    organization: object
    admin: APIClient
    viewer: APIClient
    outsider: APIClient


@pytest.fixture
def tenant(transactional_db) -> Tenant:
    organization = OrganizationFactory()
    admin, viewer = UserFactory(is_staff=True), UserFactory()
    member(admin, organization, Role.ADMIN)
    member(viewer, organization, Role.VIEWER)
    return Tenant(organization, client_of(admin), client_of(viewer), client_of(UserFactory()))
