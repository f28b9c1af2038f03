"""A body over the size limit reaches its client as a 413, through gunicorn and a real
socket: the server reads the refused body before answering (``BodySizeLimitMiddleware``),
so a client that writes its whole body before reading — every browser and SDK — gets the
answer instead of a reset connection (a broken pipe in the hostile fuzz, issue #10)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from segments.models import Role, Segment
from tests.factories import LedgerFactory, UserFactory, member, token_for
from tests.testing.gunicorn import serve, worker_ports

PORTS = worker_ports(8450, 1)
BODY_BYTES = 8 * 1024 * 1024  # four times the 2 MiB limit: far past any socket buffer
ATTEMPTS = 3

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    with serve(PORTS, tmp_path_factory.mktemp("oversized")) as bases:
        yield urlsplit(bases[0])


def _post(server, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_an_api_body_over_the_limit_is_answered_413_every_time(server):
    ledger = LedgerFactory()
    user = UserFactory()
    member(user, ledger.organization, Role.ADMIN)
    path = f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments"
    body = json.dumps({"name": "Big", "description": "x" * BODY_BYTES}).encode()
    headers = {"Authorization": f"Bearer {token_for(user)}", "Content-Type": "application/json"}
    for _ in range(ATTEMPTS):
        status, content_type, raw = _post(server, path, body, headers)
        assert (status, content_type) == (413, "application/problem+json")
        assert json.loads(raw)["code"] == "413"
    assert not Segment.objects.exists()


def test_a_console_form_over_the_limit_is_answered_413_every_time(server):
    ledger = LedgerFactory()
    path = f"/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/accounts/new/"
    body = b"alias=%40big&asset_code=" + b"%E2%80%8B" * (BODY_BYTES // 9)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(ATTEMPTS):
        status, _, raw = _post(server, path, body, headers)
        assert (status, raw) == (413, b"Request body too large.")
