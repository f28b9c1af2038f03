"""Saving through the admin applies every domain rule: the services do the writing, and
each refusal comes back as a form error on the field concerned, never as a server error or
a silently bad row."""

import json

import pytest

from segments import services
from segments.models import (
    Account,
    HistoryAction,
    Ledger,
    Organization,
    Portfolio,
    Segment,
    SegmentHistory,
    Status,
)
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db


def form_errors(response) -> dict[str, list[str]]:
    """The errors of the admin form in ``response`` (which must be the form again)."""
    assert response.status_code == 200, "expected the form back with errors"
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def segment_data(organization, ledger, **overrides) -> dict:
    data = {
        "organization": str(organization.pk),
        "ledger": str(ledger.pk) if ledger else "",
        "name": "Gold",
        "description": "",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    return data | overrides


def segment_change_data(segment, **overrides) -> dict:
    data = {
        "name": segment.name,
        "description": segment.description or "",
        "status_code": segment.status_code,
        "status_description": segment.status_description or "",
        "metadata": json.dumps(segment.metadata),
    }
    return data | overrides


def account_data(ledger, **overrides) -> dict:
    data = {
        "ledger": str(ledger.pk),
        "alias": "@new-account",
        "name": "New account",
        "type": "deposit",
        "asset_code": "BRL",
        "entity_id": "",
        "parent_account": "",
        "blocked": "",
        "portfolio": "",
        "segment": "",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    return {key: value for key, value in (data | overrides).items() if value is not None}


def account_change_data(account, **overrides) -> dict:
    data = {
        "name": account.name or "",
        "entity_id": account.entity_id or "",
        "portfolio": str(account.portfolio_id or ""),
        "segment": str(account.segment_id or ""),
        "status_code": account.status_code,
        "status_description": account.status_description or "",
        "metadata": json.dumps(account.metadata),
    }
    if account.blocked:
        data["blocked"] = "on"
    return data | overrides


ADD_SEGMENT = "/admin/segments/segment/add/"
ADD_ACCOUNT = "/admin/segments/account/add/"


# --------------------------------------------------------------------------- segments


def test_adding_a_segment_goes_through_the_service_and_records_history(
    staff_client, staff, organization, ledger
):
    response = staff_client.post(ADD_SEGMENT, segment_data(organization, ledger, name="  Gold "))
    assert response.status_code == 302
    segment = Segment.objects.get(ledger=ledger)
    assert segment.name == "Gold"
    entry = SegmentHistory.objects.get(segment=segment)
    assert (entry.action, entry.actor, entry.after["name"]) == (
        HistoryAction.CREATED,
        staff,
        "Gold",
    )


def test_adding_an_organization_segment(staff_client, organization):
    response = staff_client.post(ADD_SEGMENT, segment_data(organization, None, name="Private"))
    assert response.status_code == 302
    assert Segment.objects.get(name="Private").ledger is None


def test_segment_name_taken_in_the_ledger_is_a_name_error(staff_client, organization, ledger):
    SegmentFactory(ledger=ledger, name="Gold")
    response = staff_client.post(ADD_SEGMENT, segment_data(organization, ledger, name="gOLD"))
    assert "already exists in this ledger" in form_errors(response)["name"][0]
    assert Segment.objects.filter(ledger=ledger).count() == 1


def test_segment_name_taken_in_the_organization_is_a_name_error(staff_client, organization):
    SegmentFactory(ledger=None, organization=organization, name="Private")
    response = staff_client.post(ADD_SEGMENT, segment_data(organization, None, name="PRIVATE"))
    assert "already exists in this organization" in form_errors(response)["name"][0]


def test_ledger_of_another_organization_is_a_ledger_error(staff_client, organization, other_ledger):
    response = staff_client.post(ADD_SEGMENT, segment_data(organization, other_ledger))
    assert form_errors(response)["ledger"]
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    "metadata, fragment",
    [
        ({"tier": {"nested": True}}, "nested"),
        ({"k" * 101: "v"}, "longer than 100"),
        ({"tier": "x" * 2001}, "longer than 2000"),
        ({f"k{i}": i for i in range(101)}, "at most 100 keys"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_metadata_limits_are_metadata_errors(
    staff_client, organization, ledger, metadata, fragment
):
    data = segment_data(organization, ledger, metadata=json.dumps(metadata))
    errors = form_errors(staff_client.post(ADD_SEGMENT, data))
    assert fragment in " ".join(errors["metadata"])
    assert not Segment.objects.exists()


def test_missing_and_too_long_names_are_name_errors(staff_client, organization, ledger):
    assert form_errors(staff_client.post(ADD_SEGMENT, segment_data(organization, ledger, name="")))[
        "name"
    ]
    data = segment_data(organization, ledger, name="x" * 257)
    assert form_errors(staff_client.post(ADD_SEGMENT, data))["name"]


def test_renaming_a_segment_to_a_taken_name_is_a_name_error(staff_client, ledger):
    SegmentFactory(ledger=ledger, name="Gold")
    segment = SegmentFactory(ledger=ledger, name="Silver")
    url = f"/admin/segments/segment/{segment.pk}/change/"
    response = staff_client.post(url, segment_change_data(segment, name="GOLD"))
    assert form_errors(response)["name"]
    segment.refresh_from_db()
    assert segment.name == "Silver"


def test_changing_a_segment_records_before_and_after(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger, name="Silver", metadata={"tier": "s", "old": 1})
    url = f"/admin/segments/segment/{segment.pk}/change/"
    data = segment_change_data(
        segment, name="Platinum", status_code=Status.INACTIVE, metadata='{"tier": "p"}'
    )
    assert staff_client.post(url, data).status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.status_code) == ("Platinum", Status.INACTIVE)
    assert segment.metadata == {"tier": "p"}, "a key removed in the admin is removed"
    entry = SegmentHistory.objects.get(segment=segment, action=HistoryAction.UPDATED)
    assert entry.actor == staff
    assert entry.before["name"] == "Silver" and entry.after["name"] == "Platinum"
    assert entry.after["status"]["code"] == Status.INACTIVE


def test_saving_an_unchanged_segment_writes_nothing(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Silver")
    url = f"/admin/segments/segment/{segment.pk}/change/"
    assert staff_client.post(url, segment_change_data(segment)).status_code == 302
    assert not SegmentHistory.objects.filter(segment=segment).exists()


def test_scope_of_a_segment_cannot_be_changed(staff_client, organization, ledger):
    segment = SegmentFactory(ledger=ledger, name="Silver")
    other = LedgerFactory(organization=organization)
    url = f"/admin/segments/segment/{segment.pk}/change/"
    staff_client.post(url, segment_change_data(segment, ledger=str(other.pk)))
    segment.refresh_from_db()
    assert segment.ledger == ledger


# --------------------------------------------------------------------------- accounts


def test_adding_an_account_goes_through_the_service(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    response = staff_client.post(ADD_ACCOUNT, account_data(ledger, segment=str(segment.pk)))
    assert response.status_code == 302
    account = Account.objects.get(alias="@new-account")
    assert (account.organization, account.segment) == (ledger.organization, segment)
    entry = SegmentHistory.objects.get(segment=segment)
    assert entry.action == HistoryAction.MEMBERS_ASSIGNED


def test_alias_taken_in_the_ledger_is_an_alias_error(staff_client, ledger):
    AccountFactory(ledger=ledger, alias="@taken")
    errors = form_errors(staff_client.post(ADD_ACCOUNT, account_data(ledger, alias="@taken")))
    assert "already exists in this ledger" in errors["alias"][0]


@pytest.mark.parametrize("alias", ["has space", "@external/BRL", "x" * 101, "semi;colon"])
def test_alias_rules_are_alias_errors(staff_client, ledger, alias):
    errors = form_errors(staff_client.post(ADD_ACCOUNT, account_data(ledger, alias=alias)))
    assert errors["alias"]
    assert not Account.objects.exists()


def test_asset_code_must_be_upper_case(staff_client, ledger):
    errors = form_errors(staff_client.post(ADD_ACCOUNT, account_data(ledger, asset_code="brl")))
    assert errors["asset_code"]


def test_segment_of_another_ledger_is_a_segment_error(staff_client, organization, ledger):
    elsewhere = SegmentFactory(ledger=LedgerFactory(organization=organization))
    data = account_data(ledger, segment=str(elsewhere.pk))
    errors = form_errors(staff_client.post(ADD_ACCOUNT, data))
    assert "not found" in errors["segment"][0]
    assert not Account.objects.exists()


def test_segment_of_another_organization_is_a_segment_error(staff_client, ledger, other_ledger):
    foreign = SegmentFactory(ledger=None, organization=other_ledger.organization)
    errors = form_errors(
        staff_client.post(ADD_ACCOUNT, account_data(ledger, segment=str(foreign.pk)))
    )
    assert "not found" in errors["segment"][0]


def test_inactive_segment_is_a_segment_error(staff_client, ledger):
    inactive = SegmentFactory(ledger=ledger, status_code=Status.INACTIVE)
    errors = form_errors(
        staff_client.post(ADD_ACCOUNT, account_data(ledger, segment=str(inactive.pk)))
    )
    assert "only ACTIVE segments accept members" in errors["segment"][0]


def test_deleted_segment_is_not_a_choice(staff_client, staff, ledger):
    gone = SegmentFactory(ledger=ledger)
    services.delete_segment(staff, gone)
    errors = form_errors(staff_client.post(ADD_ACCOUNT, account_data(ledger, segment=str(gone.pk))))
    assert errors["segment"]


def test_portfolio_of_another_ledger_is_a_portfolio_error(staff_client, organization, ledger):
    elsewhere = PortfolioFactory(ledger=LedgerFactory(organization=organization))
    data = account_data(ledger, portfolio=str(elsewhere.pk))
    errors = form_errors(staff_client.post(ADD_ACCOUNT, data))
    assert "portfolio" in errors["portfolio"][0].lower()


def test_parent_account_of_another_ledger_is_a_parent_error(staff_client, organization, ledger):
    elsewhere = AccountFactory(ledger=LedgerFactory(organization=organization))
    data = account_data(ledger, parent_account=str(elsewhere.pk))
    assert form_errors(staff_client.post(ADD_ACCOUNT, data))["parent_account"]


def test_moving_an_account_between_segments_records_both_histories(staff_client, ledger):
    before, after = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, segment=before)
    url = f"/admin/segments/account/{account.pk}/change/"
    assert (
        staff_client.post(url, account_change_data(account, segment=str(after.pk))).status_code
        == 302
    )
    account.refresh_from_db()
    assert account.segment == after
    assert SegmentHistory.objects.get(segment=before).action == HistoryAction.MEMBERS_REMOVED
    assert SegmentHistory.objects.get(segment=after).action == HistoryAction.MEMBERS_ASSIGNED


def test_account_cannot_be_moved_into_an_inactive_segment(staff_client, ledger):
    account = AccountFactory(ledger=ledger)
    inactive = SegmentFactory(ledger=ledger, status_code=Status.SUSPENDED)
    url = f"/admin/segments/account/{account.pk}/change/"
    errors = form_errors(
        staff_client.post(url, account_change_data(account, segment=str(inactive.pk)))
    )
    assert errors["segment"]
    account.refresh_from_db()
    assert account.segment is None


def test_alias_and_ledger_of_an_account_never_change(staff_client, ledger):
    account = AccountFactory(ledger=ledger, alias="@kept")
    url = f"/admin/segments/account/{account.pk}/change/"
    data = account_change_data(account, alias="@changed", ledger=str(LedgerFactory().pk))
    assert staff_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert (account.alias, account.ledger) == ("@kept", ledger)


# --------------------------------------------------------------------------- the others


def test_portfolio_with_an_inactive_segment_is_a_segment_error(staff_client, ledger):
    inactive = SegmentFactory(ledger=ledger, status_code=Status.PENDING)
    data = {
        "ledger": str(ledger.pk),
        "name": "Family",
        "entity_id": "",
        "segment": str(inactive.pk),
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    errors = form_errors(staff_client.post("/admin/segments/portfolio/add/", data))
    assert errors["segment"]
    assert not Portfolio.objects.exists()


def test_adding_a_ledger_and_an_organization(staff_client, staff, organization):
    data = {
        "organization": str(organization.pk),
        "name": "Savings",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": '{"region": "south"}',
    }
    assert staff_client.post("/admin/segments/ledger/add/", data).status_code == 302
    assert Ledger.objects.get(name="Savings").metadata == {"region": "south"}
    data = {
        "legal_name": "New Bank",
        "legal_document": "123",
        "doing_business_as": "",
        "parent_organization": str(organization.pk),
        "address": '{"city": "Recife", "country": "BR"}',
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    assert staff_client.post("/admin/segments/organization/add/", data).status_code == 302
    created = Organization.objects.get(legal_name="New Bank")
    assert created.parent_organization == organization
    assert created.memberships.get().user == staff, "its creator becomes its admin"


def test_bad_address_is_an_address_error(staff_client):
    data = {
        "legal_name": "New Bank",
        "legal_document": "123",
        "address": '{"country": "Brazil"}',
        "status_code": Status.ACTIVE,
        "metadata": "{}",
    }
    errors = form_errors(staff_client.post("/admin/segments/organization/add/", data))
    assert errors["address"]


def test_organization_cannot_become_its_own_ancestor(staff_client, organization):
    child = OrganizationFactory(parent_organization=organization)
    url = f"/admin/segments/organization/{organization.pk}/change/"
    data = {
        "legal_name": organization.legal_name,
        "doing_business_as": "",
        "parent_organization": str(child.pk),
        "address": "{}",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    errors = form_errors(staff_client.post(url, data))
    assert "ancestor" in errors["parent_organization"][0]
    organization.refresh_from_db()
    assert organization.parent_organization is None
