"""Responses on Midaz routes validate against Midaz's own published OpenAPI schemas
(``shared/reference/midaz-onboarding-openapi.yaml``). We may add fields, so the
reference's ``additionalProperties: false`` is relaxed; everything else holds."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db

REFERENCE = Path(
    os.environ.get(
        "MIDAZ_OPENAPI",
        Path(__file__).resolve().parents[3] / "shared/reference/midaz-onboarding-openapi.yaml",
    )
)


def _relaxed(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _relaxed(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_relaxed(item) for item in node]
    return node


@cache
def _components() -> dict:
    if not REFERENCE.exists():
        pytest.skip(f"Midaz reference not found at {REFERENCE}")
    document = yaml.safe_load(REFERENCE.read_text())
    return _relaxed(document["components"])


def assert_valid(instance: Any, schema_name: str) -> None:
    """Validate against ``#/components/schemas/<schema_name>`` of the reference."""
    root = {"components": copy.deepcopy(_components())}
    schema = {"$ref": f"#/components/schemas/{schema_name}", **root}
    jsonschema.Draft202012Validator(schema).validate(instance)


def reference_property(schema_name: str, name: str) -> jsonschema.Draft202012Validator:
    """A validator of one property of ``#/components/schemas/<schema_name>``."""
    return jsonschema.Draft202012Validator(
        _components()["schemas"][schema_name]["properties"][name]
    )


def assert_page_of(response, schema_name: str) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert_valid(body, "Pagination")
    assert body["items"], "the page should not be empty"
    for item in body["items"]:
        assert_valid(item, schema_name)


@pytest.fixture
def api(client_for, operator):
    return client_for(operator)


@pytest.fixture
def ledger_url(organization, ledger):
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}"


def test_organization_matches_the_reference(api, client_for, staff):
    created = client_for(staff).post(
        "/v1/organizations",
        {
            "legalName": "Lerian Bank",
            "legalDocument": "12345678000199",
            "address": {
                "line1": "Av. Paulista 1000",
                "zipCode": "01310-100",
                "city": "São Paulo",
                "state": "SP",
                "country": "BR",
            },
        },
        format="json",
    )
    assert created.status_code == 201
    assert_valid(created.json(), "Organization")
    url = f"/v1/organizations/{created.json()['id']}"
    assert_valid(client_for(staff).get(url).json(), "Organization")
    patched = client_for(staff).patch(url, {"doingBusinessAs": "Lerian"}, format="json")
    assert_valid(patched.json(), "Organization")
    assert_page_of(client_for(staff).get("/v1/organizations"), "Organization")


def test_ledger_matches_the_reference(api, organization):
    created = api.post(
        f"/v1/organizations/{organization.pk}/ledgers", {"name": "Cards"}, format="json"
    )
    assert_valid(created.json(), "Ledger")
    assert_page_of(api.get(f"/v1/organizations/{organization.pk}/ledgers"), "Ledger")


def test_segment_matches_the_reference(api, ledger_url):
    created = api.post(
        f"{ledger_url}/segments", {"name": "Black", "metadata": {"tier": "black"}}, format="json"
    )
    assert created.status_code == 201
    assert_valid(created.json(), "Segment")
    assert_valid(api.get(f"{ledger_url}/segments/{created.json()['id']}").json(), "Segment")
    assert_page_of(api.get(f"{ledger_url}/segments"), "Segment")


def test_portfolio_matches_the_reference(api, ledger_url, ledger):
    created = api.post(f"{ledger_url}/portfolios", {"name": "Retail"}, format="json")
    assert created.status_code == 201
    assert_valid(created.json(), "Portfolio")
    PortfolioFactory(ledger=ledger, entity_id="client-42", segment=SegmentFactory(ledger=ledger))
    assert_page_of(api.get(f"{ledger_url}/portfolios"), "Portfolio")


def test_account_matches_the_reference(api, ledger_url, ledger):
    created = api.post(
        f"{ledger_url}/accounts", {"type": "deposit", "assetCode": "BRL"}, format="json"
    )
    assert created.status_code == 201
    account = created.json()
    assert_valid(account, "Account")
    assert (account["holderId"], account["holderCheckSkipped"]) == (None, False)
    AccountFactory(ledger=ledger, alias="@maria", entity_id="client-42")
    assert_valid(api.get(f"{ledger_url}/accounts/alias/@maria").json(), "Account")
    assert_page_of(api.get(f"{ledger_url}/accounts", {"limit": 1}), "Account")
    first = api.get(f"{ledger_url}/accounts", {"limit": 1}).json()
    assert_page_of(
        api.get(f"{ledger_url}/accounts", {"limit": 1, "cursor": first["next_cursor"]}), "Account"
    )


def test_errors_match_the_reference(api, ledger_url):
    problem = api.post(f"{ledger_url}/segments", {"name": "x", "foo": 1}, format="json").json()
    assert_valid(problem, "Error")
    assert_valid(api.get(f"{ledger_url}/segments/not-a-uuid").json(), "Error")
