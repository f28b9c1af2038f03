"""Issue #11 item 3: a second live ledger of the same name (ignoring case) in an organization
is refused with Midaz's 409 ``0002``, on create and on rename; nothing is written. A deleted
ledger's name is free again, and another organization may use the name."""

from __future__ import annotations

import pytest

from segments.models import Ledger
from tests.factories import LedgerFactory, UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client_for, users):
    return client_for(users["operator"])


@pytest.fixture
def ledgers_url(organization):
    return f"/v1/organizations/{organization.pk}/ledgers"


def assert_ledger_name_conflict(response) -> None:
    assert response.status_code == 409, response.content
    problem = response.json()
    assert (problem["code"], problem["status"], problem["title"]) == (
        "0002",
        409,
        "Ledger Name Conflict",
    )
    assert problem["entityType"] == "Ledger"
    assert problem["fields"] == {"name": problem["message"]}
    assert "already exists in this organization" in problem["message"]


@pytest.mark.parametrize("name", ["Cards", "CARDS", "cards", "  cArDs  "])
def test_creating_a_ledger_with_a_taken_name_is_0002(operator_client, ledgers_url, ledger, name):
    response = operator_client.post(ledgers_url, {"name": name}, format="json")
    assert_ledger_name_conflict(response)
    assert Ledger.objects.filter(organization=ledger.organization).count() == 1


def test_renaming_a_ledger_to_a_taken_name_is_0002(operator_client, ledgers_url, ledger):
    other = LedgerFactory(organization=ledger.organization, name="Savings")
    response = operator_client.patch(f"{ledgers_url}/{other.pk}", {"name": "cards"}, format="json")
    assert_ledger_name_conflict(response)
    other.refresh_from_db()
    assert other.name == "Savings"


def test_a_ledger_may_change_the_case_of_its_own_name(operator_client, ledgers_url, ledger):
    response = operator_client.patch(f"{ledgers_url}/{ledger.pk}", {"name": "CARDS"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "CARDS"


def test_a_deleted_ledgers_name_is_free(client_for, users, ledgers_url, organization):
    created = client_for(users["operator"]).post(ledgers_url, {"name": "Treasury"}, format="json")
    assert created.status_code == 201
    deleted = client_for(users["admin"]).delete(f"{ledgers_url}/{created.json()['id']}")
    assert deleted.status_code == 204
    again = client_for(users["operator"]).post(ledgers_url, {"name": "treasury"}, format="json")
    assert again.status_code == 201, again.content
    assert (
        Ledger.all_objects.filter(organization=organization, name__iexact="treasury").count() == 2
    )


def test_another_organization_may_use_the_name(client_for, other_ledger, ledger):
    outsider = UserFactory(username="other-operator")
    member(outsider, other_ledger.organization, "operator")
    response = client_for(outsider).post(
        f"/v1/organizations/{other_ledger.organization.pk}/ledgers",
        {"name": "Cards"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_0002_has_its_error_page(client):
    page = client.get("/v1/errors/0002")
    assert page.status_code == 200
    assert "Ledger Name Conflict" in page.content.decode()
