"""Issue #11 item 3 in the admin: a ledger name taken (ignoring case) by a live ledger of the
same organization is an error beside the name field, on add and on change, and nothing is
written."""

import pytest
from django.utils import timezone

from segments.models import Ledger, Status
from tests.factories import LedgerFactory

pytestmark = pytest.mark.django_db

ADD_LEDGER = "/admin/segments/ledger/add/"


def ledger_data(**overrides) -> dict:
    data = {
        "name": "Savings",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    return data | overrides


def name_errors(response) -> list[str]:
    assert response.status_code == 200, "expected the form back with errors"
    return [str(error) for error in response.context["adminform"].form.errors.get("name", [])]


def test_adding_a_ledger_with_a_taken_name_is_a_name_error(staff_client, organization, ledger):
    response = staff_client.post(
        ADD_LEDGER, ledger_data(organization=str(organization.pk), name="CARDS")
    )
    assert name_errors(response) == ["A ledger with this name already exists in this organization."]
    assert Ledger.objects.filter(organization=organization).count() == 1


def test_renaming_a_ledger_to_a_taken_name_is_a_name_error(staff_client, ledger):
    other = LedgerFactory(organization=ledger.organization, name="Savings")
    response = staff_client.post(
        f"/admin/segments/ledger/{other.pk}/change/", ledger_data(name="cards")
    )
    assert name_errors(response) == ["A ledger with this name already exists in this organization."]
    other.refresh_from_db()
    assert other.name == "Savings"


def test_the_name_of_a_deleted_ledger_is_free(staff_client, organization):
    LedgerFactory(organization=organization, name="Old", deleted_at=timezone.now())
    response = staff_client.post(
        ADD_LEDGER, ledger_data(organization=str(organization.pk), name="old")
    )
    assert response.status_code == 302
    assert Ledger.objects.get(organization=organization).name == "old"
