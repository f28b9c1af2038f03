"""Midaz wire compatibility of errors and organizations (issue #11, items 1, 2 and 5).

- A problem's ``type`` is an absolute URL (Midaz's schema: ``format: uri``) built from the
  request's scheme and host, and the page it names exists there.
- Clients that parse only ``application/json`` (Midaz's TypeScript SDK) get the same body
  as ``application/json`` when their ``Accept`` names it and not
  ``application/problem+json``; everyone else gets ``application/problem+json``; every
  error says ``Vary: Accept``. Proven for each layer that answers errors: a DRF view, the
  unrouted-URL route, the body-size middleware and authentication.
- An unrouted ``/v1…`` URL is 404 with Midaz's ``0484``, with ``DEBUG`` on too.
- An organization's address never carries an empty member (Midaz refuses ``"country":
  ""``).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from segments.models import Role
from tests.api.test_reference_schema import assert_valid, reference_property
from tests.factories import OrganizationFactory, UserFactory, member, token_for

pytestmark = pytest.mark.django_db

MISSING = "0191f7e2-0000-7000-8000-000000000000"
PROBLEM = "application/problem+json"
JSON = "application/json"


@pytest.fixture
def api(client_for, operator):
    return client_for(operator)


def _drf_error(client, organization, **headers):
    """A DRF-level error: a segment that does not exist (0007)."""
    return client.get(f"/v1/organizations/{organization.pk}/segments/{MISSING}", **headers)


def _unrouted(client, organization, **headers):
    return client.get("/v1/organisations", **headers)


def _too_large(client, organization, **headers):
    body = json.dumps({"name": "x" * (3 * 1024 * 1024)})
    return client.post(
        f"/v1/organizations/{organization.pk}/segments",
        body,
        content_type="application/json",
        **headers,
    )


def _unauthenticated(client, organization, **headers):
    return APIClient().get("/v1/organizations", **headers)


ERRORS = {
    "drf view (0007)": (_drf_error, 404, "0007"),
    "unrouted url (0484)": (_unrouted, 404, "0484"),
    "body too large (413)": (_too_large, 413, "413"),
    "no credentials (9003)": (_unauthenticated, 401, "9003"),
}


@pytest.mark.parametrize("layer", ERRORS)
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, PROBLEM),
        ("*/*", PROBLEM),
        (JSON, JSON),
        ("application/json, text/plain, */*", JSON),  # what axios and fetch wrappers send
        (PROBLEM, PROBLEM),
        (f"{JSON}, {PROBLEM}", PROBLEM),
        (f"{PROBLEM};q=0.5, {JSON}", PROBLEM),
        (f"{PROBLEM};q=0, {JSON}", JSON),  # problem+json refused: plain JSON
    ],
)
def test_errors_answer_the_content_type_that_accept_reads(
    layer, accept, content_type, api, organization
):
    send, status, code = ERRORS[layer]
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = send(api, organization, **headers)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == content_type
    assert "Accept" in [part.strip() for part in response["Vary"].split(",")]
    body = json.loads(response.content)
    assert body["code"] == code
    assert body["status"] == status
    assert_valid(body, "Error")


@pytest.mark.parametrize("layer", ERRORS)
def test_the_body_is_the_same_whichever_content_type(layer, api, organization):
    send, _, _ = ERRORS[layer]
    as_problem = send(api, organization, HTTP_ACCEPT=PROBLEM, HTTP_X_REQUEST_ID="same")
    as_json = send(api, organization, HTTP_ACCEPT=JSON, HTTP_X_REQUEST_ID="same")
    assert json.loads(as_problem.content) == json.loads(as_json.content)


def test_success_bodies_stay_application_json(api, organization):
    response = api.get(f"/v1/organizations/{organization.pk}", HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == JSON


@pytest.mark.parametrize("layer", ERRORS)
def test_problem_type_is_the_absolute_url_of_the_codes_page(layer, api, organization, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "api.bank.example"]
    send, _, code = ERRORS[layer]
    response = send(api, organization, HTTP_HOST="api.bank.example", **{"wsgi.url_scheme": "https"})
    problem = response.json()
    assert problem["type"] == f"https://api.bank.example/v1/errors/{code}"
    page = Client().get(urlsplit(problem["type"]).path, HTTP_HOST="api.bank.example", secure=True)
    assert page.status_code == 200
    assert f"<code>{code}</code>" in page.content.decode()


def test_problem_type_follows_the_request_host(api, organization, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "other.example"]
    response = _drf_error(api, organization, HTTP_HOST="other.example")
    assert response.json()["type"] == "http://other.example/v1/errors/0007"


# --------------------------------------------------------------------------- 0484


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/organisations"),
        ("get", "/v1/"),
        ("get", "/v1"),
        ("post", "/v1/organizations/x/ledgers/y/nope"),
        ("delete", "/v1/transactions"),
    ],
)
def test_unrouted_api_urls_answer_0484_with_debug_on_or_off(api, settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert (problem["code"], problem["title"], problem["status"]) == (
        "0484",
        "Route Not Found",
        404,
    )
    assert path in problem["detail"]
    assert_valid(problem, "Error")


def test_an_unrouted_post_with_a_session_is_0484_not_a_csrf_page(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    response = client.post("/v1/nope", {"a": "b"})
    assert response.status_code == 404
    assert response.json()["code"] == "0484"


def test_0484_is_on_the_error_codes_page(client):
    assert "0484" in client.get("/v1/errors").content.decode()
    page = client.get("/v1/errors/0484")
    assert page.status_code == 200
    assert "Route Not Found" in page.content.decode()


def test_a_missing_trailing_slash_of_a_real_page_still_redirects(client):
    response = client.get("/v1/docs")
    assert response.status_code == 301
    assert response["Location"] == "/v1/docs/"


def test_an_unknown_error_code_page_is_a_problem_with_debug_on(client, settings):
    settings.DEBUG = True
    response = client.get("/v1/errors/1234")
    assert response.status_code == 404
    assert response.json()["code"] == "0007"


# --------------------------------------------------------------------------- address


def _organization_as_seen(address: dict) -> dict:
    organization = OrganizationFactory(address=address)
    user = UserFactory()
    member(user, organization, Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    detail = client.get(f"/v1/organizations/{organization.pk}").json()
    listed = client.get("/v1/organizations").json()["items"]
    assert listed == [detail], "the list renders an organization as its detail does"
    return detail


@pytest.mark.parametrize(
    "address",
    [
        {},
        {"line1": "Av. Paulista 1000", "city": "São Paulo"},
        {"line1": "Av. Paulista 1000", "country": "", "zipCode": "", "line2": ""},
        {"country": "BR"},
    ],
)
def test_an_address_never_sends_an_empty_member(address):
    shown = _organization_as_seen(address)["address"]
    assert "" not in shown.values()
    assert shown["line2"] is None, "line2 is null when unset, as Midaz types it"
    assert {name for name, value in shown.items() if value} == {
        name for name, value in address.items() if value
    }
    for name, value in shown.items():
        reference_property("Address", name).validate(value)


def test_a_complete_address_matches_midaz_schema():
    address = {
        "line1": "Av. Paulista 1000",
        "line2": "Andar 10",
        "zipCode": "01310-100",
        "city": "São Paulo",
        "state": "SP",
        "country": "BR",
    }
    shown = _organization_as_seen(address)
    assert shown["address"] == address
    assert_valid(shown, "Organization")
    without_line2 = _organization_as_seen({**address, "line2": None})
    assert without_line2["address"]["line2"] is None
    assert_valid(without_line2, "Organization")
