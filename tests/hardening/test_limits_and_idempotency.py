"""Input limits, idempotent POSTs, database outages and request logs, through HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from segments.models import Account, IdempotencyRecord, Role, Segment
from tests.factories import AccountFactory, LedgerFactory, UserFactory, member, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    ledger = LedgerFactory()
    user = UserFactory(username="teller")
    member(user, ledger.organization, Role.ADMIN)
    client = APIClient()
    token = token_for(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    base = f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
    return {"client": client, "ledger": ledger, "base": base, "token": token, "user": user}


def test_a_body_over_the_limit_is_refused_with_413_and_changes_nothing(api, settings):
    body = json.dumps({"name": "Big", "description": "x" * (3 * 1024 * 1024)})
    response = api["client"].post(f"{api['base']}/segments", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "413"
    assert not Segment.objects.exists()


def test_metadata_over_100_keys_is_refused(api):
    response = api["client"].post(
        f"{api['base']}/segments",
        {"name": "Wide", "metadata": {f"k{i}": i for i in range(101)}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "0047"


def test_bulk_members_take_at_most_10000_ids(api):
    segment = api["client"].post(f"{api['base']}/segments", {"name": "S"}, format="json").json()
    ids = [f"00000000-0000-7000-8000-{i:012d}" for i in range(10_001)]
    response = api["client"].post(
        f"{api['base']}/segments/{segment['id']}/members", {"accountIds": ids}, format="json"
    )
    assert response.status_code == 400
    assert "10000" in json.dumps(response.json())


def test_limits_are_documented_in_the_openapi_document(api):
    document = api["client"].get("/v1/openapi.json").json()
    text = json.dumps(document)
    assert '"maxProperties": 100' in text
    assert '"maxItems": 10000' in text
    assert "Idempotency-Key" in text
    create = document["paths"]["/v1/organizations/{organization_id}/ledgers/{ledger_id}/segments"]
    assert "413" in create["post"]["responses"]


def test_same_key_same_body_replays_the_first_answer_and_creates_nothing(api):
    url = f"{api['base']}/segments"
    first = api["client"].post(url, {"name": "Black"}, format="json", HTTP_IDEMPOTENCY_KEY="a1")
    again = api["client"].post(url, {"name": "Black"}, format="json", HTTP_IDEMPOTENCY_KEY="a1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert Segment.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_same_key_other_body_is_refused_with_9007(api):
    url = f"{api['base']}/segments"
    api["client"].post(url, {"name": "Black"}, format="json", HTTP_IDEMPOTENCY_KEY="a2")
    response = api["client"].post(url, {"name": "Gold"}, format="json", HTTP_IDEMPOTENCY_KEY="a2")
    assert response.status_code == 409
    assert response.json()["code"] == "9007"
    assert not Segment.objects.filter(name="Gold").exists()


def test_a_refused_request_keeps_no_key_so_a_corrected_retry_runs(api):
    url = f"{api['base']}/segments"
    refused = api["client"].post(url, {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="a3")
    assert refused.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    retried = api["client"].post(url, {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="a3")
    assert retried.status_code == 400


def test_keys_are_per_user(api):
    url = f"{api['base']}/segments"
    api["client"].post(url, {"name": "Black"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other = UserFactory()
    member(other, api["ledger"].organization, Role.OPERATOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(other)}")
    response = client.post(url, {"name": "Gold"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201


def test_bulk_member_posts_are_idempotent_too(api):
    segment = api["client"].post(f"{api['base']}/segments", {"name": "S"}, format="json").json()
    ids = [str(AccountFactory(ledger=api["ledger"]).pk) for _ in range(3)]
    url = f"{api['base']}/segments/{segment['id']}/members"
    for _ in range(2):
        response = api["client"].post(
            url, {"accountIds": ids}, format="json", HTTP_IDEMPOTENCY_KEY="bulk"
        )
        assert response.status_code == 200
    history = api["client"].get(f"{api['base']}/segments/{segment['id']}/history").json()
    assert [entry["action"] for entry in history["items"]].count("members_assigned") == 1
    assert Account.objects.filter(segment_id=segment["id"]).count() == 3


def test_database_outage_answers_503_with_the_error_body(api, monkeypatch):
    def unavailable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("segments.selectors.segments_of", unavailable)
    response = api["client"].get(f"{api['base']}/segments")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "9008" and body["status"] == 503


def test_console_answers_503_page_during_a_database_outage(api, client, monkeypatch):
    client.force_login(api["user"])

    def unavailable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("segments.selectors.segments_of", unavailable)
    ledger = api["ledger"]
    response = client.get(f"/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/")
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.content.decode()


def test_each_request_logs_one_structured_line_without_secrets(api, caplog):
    with caplog.at_level(logging.INFO, logger="segments.requests"):
        api["client"].get(f"{api['base']}/segments", HTTP_X_REQUEST_ID="trace-7")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "segments.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "trace-7"
    assert line["user"] == "teller"
    assert line["organization"] == str(api["ledger"].organization_id)
    assert line["status"] == 200 and line["duration_ms"] >= 0
    assert api["token"] not in caplog.text
