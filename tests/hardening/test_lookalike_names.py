"""Look-alike names (issue 10, item 7): a name is stored without zero-width and bidi
control characters, in Unicode NFC, trimmed (``validators.normalize_name``), on every face
— so ``Bl\\u200back`` next to ``Black`` is a duplicate (409 0015 in the API, a message
under the name field in the console and the admin) and a right-to-left override never
reaches a page."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from segments import services
from segments.models import Account, Ledger, Organization, Portfolio, Segment, Status
from tests.console.conftest import htmx, url
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db

LOOK_ALIKES_OF_BLACK = [
    "Bl\u200back",  # zero-width space
    "B\u200clack",  # zero-width non-joiner
    "Bla\u200dck",  # zero-width joiner
    "Bl\u2060ack",  # word joiner
    "\ufeffBlack",  # byte-order mark
    "\u202eBlack\u202c",  # right-to-left override … pop
    "\u2067Black\u2069",  # right-to-left isolate … pop
    "Black\u200f",  # right-to-left mark
    "\u061cBlack",  # Arabic letter mark
    "\u200e black \u202a",  # left-to-right mark and embedding around spaces
]


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@pytest.fixture
def api(operator) -> APIClient:
    return api_for(operator)


@pytest.fixture
def base(ledger) -> str:
    return f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"


@pytest.fixture
def ledger_kwargs(ledger) -> dict:
    return {"organization_id": ledger.organization_id, "ledger_id": ledger.pk}


@pytest.fixture
def black(operator, ledger) -> Segment:
    return services.create_segment(operator, ledger, name="Black")


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("name", LOOK_ALIKES_OF_BLACK)
def test_api_look_alike_of_a_segment_name_is_a_duplicate(api, base, black, name):
    response = api.post(f"{base}/segments", {"name": name}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "0015"
    assert Segment.objects.filter(ledger=black.ledger).count() == 1


def test_api_decomposed_accent_is_the_composed_name(api, base):
    assert api.post(f"{base}/segments", {"name": "Café"}, format="json").status_code == 201
    response = api.post(f"{base}/segments", {"name": "Cafe\u0301"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "0015"


def test_api_rename_to_a_look_alike_is_a_duplicate(api, base, black, operator, ledger):
    gold = services.create_segment(operator, ledger, name="Gold")
    response = api.patch(f"{base}/segments/{gold.pk}", {"name": "Bl\u200back"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "0015"
    gold.refresh_from_db()
    assert gold.name == "Gold"


def test_api_organization_segment_look_alike_is_a_duplicate(api, ledger, operator):
    services.create_segment(operator, ledger.organization, name="Private")
    response = api.post(
        f"/v1/organizations/{ledger.organization_id}/segments",
        {"name": "Pri\u200bvate"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "0015"


def test_api_stores_and_shows_the_normalised_names(api, base):
    segment = api.post(f"{base}/segments", {"name": "\u202eGold\u202c"}, format="json")
    assert segment.status_code == 201
    assert segment.json()["name"] == "Gold"
    portfolio = api.post(f"{base}/portfolios", {"name": "Fam\u200bily\ufeff"}, format="json")
    assert portfolio.status_code == 201
    assert portfolio.json()["name"] == "Family"
    account = api.post(
        f"{base}/accounts",
        {"name": "\u2066Ali\u200dce\u2069", "type": "deposit", "assetCode": "BRL"},
        format="json",
    )
    assert account.status_code == 201
    assert account.json()["name"] == "Alice"
    assert Portfolio.objects.get(pk=portfolio.json()["id"]).name == "Family"
    assert Account.objects.get(pk=account.json()["id"]).name == "Alice"
    listed = api.get(f"{base}/segments", {"name": "gold"}).json()["items"]
    assert [item["name"] for item in listed] == ["Gold"]


def test_api_ledger_look_alike_is_a_duplicate(api, ledger):
    """The organization already has the ledger "Cards"."""
    response = api.post(
        f"/v1/organizations/{ledger.organization_id}/ledgers",
        {"name": "Ca\u200brds"},
        format="json",
    )
    assert response.status_code == 409, response.content
    assert Ledger.objects.filter(organization=ledger.organization).count() == 1


def test_api_organization_names_are_normalised(users, organization):
    response = api_for(users["admin"]).patch(
        f"/v1/organizations/{organization.pk}",
        {"legalName": "Acme\u200b Bank\u202e", "doingBusinessAs": "\u2067Acme\u2069"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["legalName"], response.json()["doingBusinessAs"]) == (
        "Acme Bank",
        "Acme",
    )
    organization.refresh_from_db()
    assert (organization.legal_name, organization.doing_business_as) == ("Acme Bank", "Acme")


def test_api_a_name_of_invisible_characters_only_is_missing(api, base):
    response = api.post(f"{base}/segments", {"name": "\u200b\u202e"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "0009"
    assert not Segment.objects.exists()


# --------------------------------------------------------------------------- console


def segment_form(name: str) -> dict:
    return {
        "name": name,
        "status": "ACTIVE",
        "description": "",
        "metadata_key": [],
        "metadata_value": [],
    }


@pytest.mark.parametrize("name", ["Bl\u200back", "\u202eBlack"])
def test_console_look_alike_is_shown_under_the_name(client, operator, ledger_kwargs, black, name):
    client.force_login(operator)
    response = client.post(
        url("segment_create", **ledger_kwargs), segment_form(name), headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    text = response.text
    name_field = text[text.index('for="id_name"') : text.index('for="id_status"')]
    assert "A segment with this name already exists in this ledger." in name_field
    assert Segment.objects.filter(ledger=black.ledger).count() == 1


def test_console_stores_the_normalised_name(client, operator, ledger_kwargs, ledger):
    client.force_login(operator)
    response = client.post(
        url("segment_create", **ledger_kwargs),
        segment_form("\u2066Go\u200bld\u2069"),
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    assert list(Segment.objects.filter(ledger=ledger).values_list("name", flat=True)) == ["Gold"]
    page = client.get(url("ledger_segments", **ledger_kwargs))
    assert "Gold" in page.text and "\u2066" not in page.text


# --------------------------------------------------------------------------- admin


def test_admin_look_alike_is_a_name_error(client, organization, ledger, black):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/segments/segment/add/",
        {
            "organization": str(organization.pk),
            "ledger": str(ledger.pk),
            "name": "Bl\u200back",
            "description": "",
            "status_code": Status.ACTIVE,
            "status_description": "",
            "metadata": "{}",
        },
    )
    assert response.status_code == 200, "the form again, with the error"
    errors = response.context["adminform"].form.errors
    assert "already exists in this ledger" in errors["name"][0]
    assert Segment.objects.filter(ledger=ledger).count() == 1
    assert Organization.objects.count() == 1
