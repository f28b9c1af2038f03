"""Every error code of api.md's table, through HTTP, in the one problem body.

Each test names the code it proves. ``assert_problem`` checks the shape shared by all:
RFC 9457 members plus Midaz v3's ``message``/``fields``, ``code`` as text, ``status``
equal to the HTTP status, ``type`` the absolute URL of our page for the code, served as
``application/problem+json`` (the client asked for nothing in particular) with
``Vary: Accept``.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.core.cache import cache

from segments import errors
from segments.api.views import SegmentViewSet
from segments.models import Segment, Status
from tests.factories import AccountFactory, OrganizationFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db

MISSING = "0191f7e2-0000-7000-8000-000000000000"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "Accept" in response["Vary"]
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"http://testserver/v1/errors/{code}"
    assert problem["title"]
    assert problem["detail"] == problem["message"]
    if "errors" in problem:
        assert {error["location"]: error["message"] for error in problem["errors"]} == problem[
            "fields"
        ]
    return problem


@pytest.fixture
def operator_client(client_for, operator):
    return client_for(operator)


@pytest.fixture
def ledger_url(organization, ledger):
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}"


def test_0007_entity_not_found(operator_client, ledger_url):
    response = operator_client.get(f"{ledger_url}/segments/{MISSING}")
    problem = assert_problem(response, 404, "0007")
    assert problem["entityType"] == "Segment"


def test_0007_for_a_ledger_of_another_organization(operator_client, organization, other_ledger):
    response = operator_client.get(
        f"/v1/organizations/{organization.pk}/ledgers/{other_ledger.pk}/accounts"
    )
    assert_problem(response, 404, "0007")


def test_0484_for_an_unrouted_api_url(operator_client):
    problem = assert_problem(operator_client.get("/v1/organisations"), 404, "0484")
    assert problem["title"] == "Route Not Found"
    assert "/v1/organisations" in problem["detail"]


def test_0009_required_fields_missing(operator_client, ledger_url):
    response = operator_client.post(f"{ledger_url}/accounts", {"name": "x"}, format="json")
    problem = assert_problem(response, 400, "0009")
    assert problem["fields"] == {"type": "required", "assetCode": "required"}
    assert problem["entityType"] == "Account"


def test_0014_segment_not_active(operator_client, ledger_url, ledger):
    segment = SegmentFactory(ledger=ledger, status_code=Status.INACTIVE)
    response = operator_client.post(
        f"{ledger_url}/accounts",
        {"type": "deposit", "assetCode": "BRL", "segmentId": str(segment.pk)},
        format="json",
    )
    problem = assert_problem(response, 422, "0014")
    assert problem["fields"] == {"segmentId": "segment is not active"}


def test_0015_duplicate_segment_name(operator_client, ledger_url, ledger):
    SegmentFactory(ledger=ledger, name="Black")
    response = operator_client.post(f"{ledger_url}/segments", {"name": "BLACK"}, format="json")
    problem = assert_problem(response, 409, "0015")
    assert "name" in problem["fields"]


def test_0020_duplicate_alias(operator_client, ledger_url, ledger):
    AccountFactory(ledger=ledger, alias="@maria")
    response = operator_client.post(
        f"{ledger_url}/accounts",
        {"type": "deposit", "assetCode": "BRL", "alias": "@maria"},
        format="json",
    )
    problem = assert_problem(response, 409, "0020")
    assert "alias" in problem["fields"]


def test_0035_portfolio_in_body_not_found(operator_client, ledger_url, other_ledger):
    elsewhere = PortfolioFactory(ledger=other_ledger)
    response = operator_client.post(
        f"{ledger_url}/accounts",
        {"type": "deposit", "assetCode": "BRL", "portfolioId": str(elsewhere.pk)},
        format="json",
    )
    problem = assert_problem(response, 404, "0035")
    assert list(problem["fields"]) == ["portfolioId"]


def test_0036_segment_in_body_not_found(operator_client, ledger_url, other_ledger):
    other_tenants = SegmentFactory(ledger=other_ledger)
    response = operator_client.post(
        f"{ledger_url}/portfolios",
        {"name": "Retail", "segmentId": str(other_tenants.pk)},
        format="json",
    )
    problem = assert_problem(response, 404, "0036")
    assert list(problem["fields"]) == ["segmentId"]


def test_0037_ledger_not_found_is_rendered_like_every_domain_error(
    operator_client, ledger_url, monkeypatch
):
    """No request body of this API names a ledger (the path does, and answers 0007), so
    a service raising 0037 is simulated to prove that it reaches the client intact."""

    def refuse(*args, **kwargs):
        raise errors.LedgerNotFound(entity_type="Ledger")

    monkeypatch.setattr(SegmentViewSet, "create_entity", staticmethod(refuse))
    response = operator_client.post(f"{ledger_url}/segments", {"name": "Black"}, format="json")
    problem = assert_problem(response, 404, "0037")
    assert problem["entityType"] == "Ledger"


def test_0038_parent_organization_in_body_not_found(client_for, staff):
    response = client_for(staff).post(
        "/v1/organizations",
        {"legalName": "Child", "legalDocument": "1", "parentOrganizationId": MISSING},
        format="json",
    )
    problem = assert_problem(response, 404, "0038")
    assert list(problem["fields"]) == ["parentOrganizationId"]


def test_0094_wrong_json_types_are_listed_by_field_before_any_rule(operator_client, ledger_url):
    """Issue #11 item 4: a value of the wrong JSON type is 0094 (as Midaz), naming the
    field and the type expected; the rules of the other fields are not checked yet."""
    response = operator_client.post(
        f"{ledger_url}/accounts",
        {
            "type": 7,
            "assetCode": "BRL",
            "blocked": "yes",
            "segmentId": "not-a-uuid",
            "status": {"code": "ALIVE"},
        },
        format="json",
    )
    problem = assert_problem(response, 400, "0094")
    assert problem["fields"] == {
        "type": "expected string, got number",
        "blocked": "expected boolean, got string",
    }
    values = {error["location"]: error.get("value") for error in problem["errors"]}
    assert values == {"type": 7, "blocked": "yes"}


def test_0047_values_that_break_a_rule_are_listed_by_field(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/accounts",
        {
            "type": "deposit",
            "assetCode": "BRL",
            "segmentId": "not-a-uuid",
            "status": {"code": "ALIVE"},
        },
        format="json",
    )
    problem = assert_problem(response, 400, "0047")
    assert set(problem["fields"]) == {"segmentId", "status.code"}
    values = {error["location"]: error.get("value") for error in problem["errors"]}
    assert values["segmentId"] == "not-a-uuid"


def test_0047_too_long_is_reported_by_the_domain_rule(operator_client, ledger_url):
    response = operator_client.post(f"{ledger_url}/segments", {"name": "x" * 257}, format="json")
    problem = assert_problem(response, 400, "0047")
    assert list(problem["fields"]) == ["name"]


def test_0094_body_must_be_an_object(operator_client, ledger_url):
    response = operator_client.post(f"{ledger_url}/segments", ["Black"], format="json")
    problem = assert_problem(response, 400, "0094")
    assert problem["fields"] == {"body": "expected object, got array"}


def test_0047_member_ids_must_be_uuids(operator_client, ledger_url, ledger):
    segment = SegmentFactory(ledger=ledger)
    response = operator_client.post(
        f"{ledger_url}/segments/{segment.pk}/members",
        {"accountIds": [MISSING, "nope"]},
        format="json",
    )
    problem = assert_problem(response, 400, "0047")
    assert list(problem["fields"]) == ["accountIds[1]"]


def test_0050_metadata_key_too_long(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/segments", {"name": "Black", "metadata": {"k" * 101: "v"}}, format="json"
    )
    assert_problem(response, 400, "0050")


def test_0051_metadata_value_too_long(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/segments", {"name": "Black", "metadata": {"k": "v" * 2001}}, format="json"
    )
    assert_problem(response, 400, "0051")


def test_0053_unexpected_and_read_only_fields(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/segments",
        {"name": "Black", "foo": "bar", "ledgerId": MISSING, "status": {"colour": "red"}},
        format="json",
    )
    problem = assert_problem(response, 400, "0053")
    assert problem["entityType"] == "Segment"
    assert problem["fields"] == {
        "foo": "unexpected field",
        "ledgerId": "read-only field",
        "status.colour": "unexpected field",
    }
    assert {"location": "foo", "message": "unexpected field", "value": "bar"} in problem["errors"]


def test_0053_unexpected_address_parts(client_for, staff):
    response = client_for(staff).post(
        "/v1/organizations",
        {"legalName": "X", "legalDocument": "1", "address": {"line1": "a", "planet": "Mars"}},
        format="json",
    )
    problem = assert_problem(response, 400, "0053")
    assert problem["fields"] == {"address.planet": "unexpected field"}


def test_0065_path_parameter_not_a_uuid(operator_client, organization):
    response = operator_client.get(f"/v1/organizations/{organization.pk}/ledgers/not-a-uuid")
    problem = assert_problem(response, 400, "0065")
    assert problem["fields"] == {"id": "must be a UUID"}


def test_0067_nested_metadata(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/segments", {"name": "Black", "metadata": {"k": {"a": 1}}}, format="json"
    )
    assert_problem(response, 400, "0067")


def test_0080_limit_above_100(operator_client, ledger_url):
    assert_problem(operator_client.get(f"{ledger_url}/accounts", {"limit": 101}), 400, "0080")


def test_0081_sort_order_not_asc_or_desc(operator_client, ledger_url):
    response = operator_client.get(f"{ledger_url}/segments", {"sort_order": "sideways"})
    assert_problem(response, 400, "0081")


def test_0082_query_parameter_malformed(operator_client, ledger_url):
    assert_problem(operator_client.get(f"{ledger_url}/segments", {"limit": "ten"}), 400, "0082")
    assert_problem(operator_client.get(f"{ledger_url}/accounts", {"segment_id": "x"}), 400, "0082")
    huge_page = operator_client.get(f"{ledger_url}/segments", {"page": 10**21})
    assert_problem(huge_page, 400, "0082")


def test_0083_bad_date_range(operator_client, ledger_url):
    only_start = operator_client.get(f"{ledger_url}/accounts", {"start_date": "2026-01-01"})
    assert_problem(only_start, 400, "0083")
    reversed_range = operator_client.get(
        f"{ledger_url}/accounts", {"start_date": "2026-02-01", "end_date": "2026-01-01"}
    )
    assert_problem(reversed_range, 400, "0083")


def test_0094_body_is_not_json(operator_client, ledger_url):
    response = operator_client.generic(
        "POST", f"{ledger_url}/segments", '{"name": ', content_type="application/json"
    )
    assert_problem(response, 400, "0094")


def test_9001_delete_refused_while_the_segment_has_members(
    client_for, admin_user, ledger_url, ledger
):
    segment = SegmentFactory(ledger=ledger, name="Black")
    AccountFactory.create_batch(2, ledger=ledger, segment=segment)
    response = client_for(admin_user).delete(f"{ledger_url}/segments/{segment.pk}")
    problem = assert_problem(response, 409, "9001")
    assert "2 account(s)" in problem["detail"]


def test_9002_delete_refused_while_the_ledger_has_children(
    client_for, admin_user, ledger_url, ledger
):
    AccountFactory(ledger=ledger)
    assert_problem(client_for(admin_user).delete(ledger_url), 409, "9002")


def test_9003_missing_or_invalid_credentials(client_for):
    anonymous = client_for(None).get("/v1/organizations")
    assert_problem(anonymous, 401, "9003")
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    bad = client_for(None)
    bad.credentials(HTTP_AUTHORIZATION="Bearer sc_not-a-token")
    assert_problem(bad.get("/v1/organizations"), 401, "9003")


def test_9004_role_does_not_allow_the_action(client_for, users, ledger_url):
    response = client_for(users["viewer"]).post(
        f"{ledger_url}/segments", {"name": "Black"}, format="json"
    )
    assert_problem(response, 403, "9004")


def test_9004_only_staff_create_organizations(client_for, operator):
    response = client_for(operator).post(
        "/v1/organizations", {"legalName": "X", "legalDocument": "1"}, format="json"
    )
    assert_problem(response, 403, "9004")


def test_9005_too_many_requests(client_for, operator, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "2/minute"},
    }
    cache.clear()
    client = client_for(operator)
    assert client.get("/v1/organizations").status_code == 200
    assert client.get("/v1/organizations").status_code == 200
    response = client.get("/v1/organizations")
    assert_problem(response, 429, "9005")
    assert int(response["Retry-After"]) >= 1
    other_token = client_for(operator)
    assert other_token.get("/v1/organizations").status_code == 200, "the rate is per token"


def test_9006_if_match_does_not_match_the_etag(client_for, admin_user, ledger_url, ledger):
    segment = SegmentFactory(ledger=ledger)
    response = client_for(admin_user).delete(
        f"{ledger_url}/segments/{segment.pk}", HTTP_IF_MATCH='"stale"'
    )
    assert_problem(response, 412, "9006")


def test_9007_idempotency_key_reused_with_another_body(client_for, operator, ledger_url):
    client = client_for(operator)
    first = client.post(
        f"{ledger_url}/segments", {"name": "Black"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    response = client.post(
        f"{ledger_url}/segments", {"name": "Gold"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert_problem(response, 409, "9007")
    assert Segment.objects.filter(name="Gold").count() == 0


def test_9999_unexpected_error_says_only_internal_error_and_the_request_id(
    operator_client, monkeypatch, caplog
):
    def crash(*args, **kwargs):
        raise RuntimeError("secret detail of the crash")

    monkeypatch.setattr("segments.selectors.organizations_visible", crash)
    with caplog.at_level(logging.ERROR, logger="segments.api"):
        response = operator_client.get("/v1/organizations", HTTP_X_REQUEST_ID="req-42")
    problem = assert_problem(response, 500, "9999")
    assert problem["detail"] == "internal error (request id req-42)"
    assert problem["requestId"] == response["X-Request-Id"] == "req-42"
    assert "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(record.exc_info for record in caplog.records), "the crash is logged"


def test_9999_outside_drf_views_too(client_for, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("segments.api.errors.error_pages", crash)
    client = client_for(None)
    client.raise_request_exception = False
    response = client.get("/v1/errors/0053")
    problem = assert_problem(response, 500, "9999")
    assert problem["requestId"] == response["X-Request-Id"]


# --------------------------------------------------------------------------- HTTP-level


def test_405_method_not_allowed(operator_client, organization):
    response = operator_client.put(f"/v1/organizations/{organization.pk}", {}, format="json")
    assert_problem(response, 405, "405")


def test_415_body_not_json(operator_client, ledger_url):
    response = operator_client.post(
        f"{ledger_url}/segments", "name=Black", content_type="text/plain"
    )
    assert_problem(response, 415, "415")


def test_other_tenants_and_missing_ids_are_indistinguishable(client_for, operator):
    other = OrganizationFactory()
    missing = client_for(operator).get(f"/v1/organizations/{uuid.UUID(MISSING)}").json()
    hidden = client_for(operator).get(f"/v1/organizations/{other.pk}").json()
    assert missing == hidden


def test_every_code_has_a_page(client):
    index = client.get("/v1/errors")
    assert index.status_code == 200
    for code in [*errors.ERRORS_BY_CODE, "405", "415"]:
        page = client.get(f"/v1/errors/{code}")
        assert page.status_code == 200, code
        assert code in page.content.decode()
    assert_problem(client.get("/v1/errors/1234"), 404, "0007")


def test_pages_outside_the_api_keep_the_normal_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
