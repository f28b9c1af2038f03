"""Who may call the API: a Bearer token or a console session; every answer names its
request."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_console_session_reads_the_api(operator, organization):
    client = APIClient()
    client.force_login(operator)
    response = client.get(f"/v1/organizations/{organization.pk}")
    assert response.status_code == 200
    assert response.json()["legalName"] == "Acme Bank"


def test_a_session_write_needs_the_csrf_token(operator, organization):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)
    url = f"/v1/organizations/{organization.pk}/ledgers"
    refused = client.post(url, {"name": "Cards"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "9004")
    token = "a" * 32  # a CSRF secret, as the console's cookie would hold
    client.cookies["csrftoken"] = token
    accepted = client.post(url, {"name": "Cards"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


def test_a_bearer_token_needs_no_csrf_token(client_for, operator, organization):
    client = client_for(operator)
    client.handler.enforce_csrf_checks = True
    response = client.post(
        f"/v1/organizations/{organization.pk}/ledgers", {"name": "Cards"}, format="json"
    )
    assert response.status_code == 201


def test_a_revoked_token_is_refused(client_for, operator):
    client = client_for(operator)
    operator.api_tokens.all().delete()
    response = client.get("/v1/organizations")
    assert (response.status_code, response.json()["code"]) == (401, "9003")


def test_every_answer_carries_the_request_id(client_for, operator, organization):
    client = client_for(operator)
    ok = client.get("/v1/organizations", HTTP_X_REQUEST_ID="abc-123")
    problem = client.get("/v1/organizations/not-a-uuid", HTTP_X_REQUEST_ID="abc-124")
    unrouted = client.get("/v1/nowhere", HTTP_X_REQUEST_ID="abc-125")
    assert [ok["X-Request-Id"], problem["X-Request-Id"], unrouted["X-Request-Id"]] == [
        "abc-123",
        "abc-124",
        "abc-125",
    ]
