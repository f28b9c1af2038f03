"""The segment's Benefits tab, a benefit's page and its dialogs (issue #13 item 4),
through rendered HTML: the list in words, a form whose fields follow the kind, every
refusal beside its field with nothing written, the 9012 conflict linking the other
benefit, versions, roles and tenancy."""

from __future__ import annotations

import datetime as dt

import pytest

from segments import services
from segments.models import Benefit, BenefitVersion
from tests.console.conftest import htmx, url
from tests.factories import LedgerFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

CASHBACK = {"percentage": "2.5", "assetCode": "BRL", "cap": {"amount": "50.00", "period": "month"}}


def cashback_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Education cashback",
        "kind": "cashback",
        "status": "ACTIVE",
        "parameters.percentage": "2.5",
        "parameters.assetCode": "BRL",
        "parameters.cap.amount": "50.00",
        "parameters.cap.period": "month",
        "priority": "",
        "exclusivity_group": "",
        "valid_from": "",
        "valid_until": "",
        "description": "",
    }
    return form | overrides


def benefit_url(name: str, segment, benefit=None) -> str:
    kwargs = {
        "organization_id": segment.organization_id,
        "ledger_id": segment.ledger_id,
        "segment_id": segment.pk,
    }
    if benefit is not None:
        kwargs["benefit_id"] = benefit.pk
    return url(name, **kwargs)


def test_the_tab_lists_each_benefit_in_words(as_user, operator, black):
    services.create_benefit(
        operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    services.create_benefit(
        operator,
        black,
        name="VIP lounge",
        kind="service",
        parameters={"serviceCode": "lounge", "allowance": {"count": 4, "period": "year"}},
        priority=10,
        exclusivity_group="lounge",
        valid_until=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    page = as_user(operator).get(benefit_url("segment_benefits", black)).text
    assert "2.5 % cashback on BRL, up to 50.00 a month" in page
    assert "Service lounge, 4 a year" in page
    assert "until Jan. 1, 2030, midnight UTC" in page
    assert '<a class="tab is-current"' in page and "Benefits <span" in page
    assert "New benefit" in page
    # The list is in priority order, and the tab says how many there are.
    assert page.index("VIP lounge") < page.index("Education cashback")
    assert '<span class="tab__count">(2)</span>' in page


@pytest.mark.parametrize("extra", [0, 6])
def test_the_tab_reads_a_constant_number_of_queries(
    as_user, operator, black, extra, django_assert_num_queries
):
    for number in range(1 + extra):
        services.create_benefit(
            operator, black, name=f"Benefit {number}", kind="pointsMultiplier",
            parameters={"multiplier": "2"},
        )  # fmt: skip
    client = as_user(operator)
    client.get(benefit_url("segment_benefits", black))  # session and caches warm
    with django_assert_num_queries(7):
        response = client.get(benefit_url("segment_benefits", black))
    assert response.text.count("2× points") == 1 + extra


def test_the_kind_decides_the_fields(as_user, operator, black):
    client = as_user(operator)
    dialog = client.get(benefit_url("segment_benefit_create", black), {"kind": "service"}).text
    assert 'name="parameters.serviceCode"' in dialog
    assert 'name="parameters.allowance.period"' in dialog
    assert 'name="parameters.percentage"' not in dialog
    cashback = client.get(benefit_url("segment_benefit_create", black), headers=htmx("dialog-body"))
    assert 'name="parameters.percentage"' in cashback.text
    assert 'name="parameters.cap.period"' in cashback.text
    assert "<html" not in cashback.text  # only the dialog, for htmx


def test_a_benefit_is_created_from_the_dialog(as_user, operator, black):
    response = as_user(operator).post(
        benefit_url("segment_benefit_create", black),
        cashback_form(valid_from="2026-01-01T09:30", exclusivity_group=" cashback "),
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    assert "benefits-changed" in response["HX-Trigger"]
    benefit = Benefit.objects.get(segment=black)
    assert benefit.parameters == CASHBACK  # decimal strings, nested as the kind takes them
    assert benefit.valid_from == dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
    assert benefit.exclusivity_group == "cashback"
    assert benefit.priority == 100
    assert BenefitVersion.objects.filter(benefit=benefit, version=1).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("parameters.percentage", "0", "Must be more than 0 and at most 100."),
        ("parameters.percentage", "101", "Must be more than 0 and at most 100."),
        ("parameters.percentage", "abc", "Enter a decimal number, e.g. 2.5."),
        ("parameters.assetCode", "", "This field is required."),
        ("valid_until", "2025-01-01T00:00", "The end must be after the start."),
        ("valid_from", "not a date", "Enter a valid date/time."),
        ("priority", "x", "Enter a whole number."),
    ],
)
def test_a_bad_value_is_refused_beside_its_field(as_user, operator, black, field, value, message):
    form = cashback_form(valid_from="2026-01-01T00:00") | {field: value}
    response = as_user(operator).post(
        benefit_url("segment_benefit_create", black), form, headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    html = response.text
    field_html = html[html.index(f'name="{field}"') :]
    assert message in field_html[: field_html.index("</div>")]
    assert f'value="{value}"' in html or field.endswith("assetCode")  # what was typed stays
    assert not Benefit.objects.filter(segment=black).exists()


def test_the_ambiguity_conflict_links_the_other_benefit(as_user, operator, black):
    rival = services.create_benefit(
        operator, black, name="Airport lounge", kind="service",
        parameters={"serviceCode": "lounge"}, priority=10, exclusivity_group="lounge",
    )  # fmt: skip
    response = as_user(operator).post(
        benefit_url("segment_benefit_create", black),
        {
            "name": "Concierge lounge",
            "kind": "service",
            "status": "ACTIVE",
            "parameters.serviceCode": "concierge",
            "priority": "10",
            "exclusivity_group": "lounge",
        },
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    html = response.text
    assert "“Airport lounge” is also active in this group with this priority" in html
    assert f'href="{benefit_url("segment_benefit", black, rival)}" data-conflict-link' in html
    assert Benefit.objects.filter(segment=black).count() == 1


def test_a_duplicate_name_is_refused_beside_the_name(as_user, operator, black):
    services.create_benefit(operator, black, name="Cashback", kind="cashback", parameters=CASHBACK)
    response = as_user(operator).post(
        benefit_url("segment_benefit_create", black), cashback_form(name="CASHBACK")
    )
    assert response.status_code == 422
    assert "This segment already has a benefit with this name." in response.text
    assert Benefit.objects.filter(segment=black).count() == 1


def test_an_edit_makes_a_version_shown_on_the_benefit_page(as_user, operator, black):
    benefit = services.create_benefit(
        operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    client = as_user(operator)
    dialog = client.get(benefit_url("segment_benefit_edit", black, benefit)).text
    assert 'value="2.5"' in dialog and 'value="Education cashback"' in dialog
    etag = services.entity_etag(benefit)
    response = client.post(
        benefit_url("segment_benefit_edit", black, benefit),
        cashback_form(**{"parameters.percentage": "3", "etag": etag}),
    )
    assert response.status_code == 302
    benefit.refresh_from_db()
    assert benefit.version == 2 and benefit.parameters["percentage"] == "3"
    page = client.get(benefit_url("segment_benefit", black, benefit)).text
    assert "Version 2" in page and "Version 1" in page
    assert "3 % cashback on BRL" in page and "2.5 % cashback on BRL" in page
    # Saving over a version newer than the one the dialog showed is refused.
    stale = client.post(
        benefit_url("segment_benefit_edit", black, benefit),
        cashback_form(**{"parameters.percentage": "4", "etag": etag}),
    )
    assert stale.status_code == 422
    assert "changed since you opened it" in stale.text
    benefit.refresh_from_db()
    assert benefit.parameters["percentage"] == "3"


def test_roles_decide_who_writes(as_user, users, black, operator):
    benefit = services.create_benefit(
        operator, black, name="Lounge", kind="service", parameters={"serviceCode": "lounge"}
    )
    viewer = as_user(users["viewer"])
    page = viewer.get(benefit_url("segment_benefits", black)).text
    assert "Lounge" in page and "New benefit" not in page
    refused = viewer.post(benefit_url("segment_benefit_create", black), cashback_form())
    assert refused.status_code == 403
    operator_client = as_user(operator)
    delete_url = benefit_url("segment_benefit_delete", black, benefit)
    assert operator_client.post(delete_url).status_code == 403
    admin = as_user(users["admin"])
    assert "Delete benefit “Lounge”?" in admin.get(delete_url).text
    assert admin.post(delete_url).status_code == 302
    assert not Benefit.objects.filter(pk=benefit.pk).exists()
    assert Benefit.all_objects.filter(pk=benefit.pk).exists()  # soft delete, versions kept


def test_another_tenants_benefits_are_not_found(as_user, operator, black):
    foreign_ledger = LedgerFactory(organization=OrganizationFactory())
    foreign = services.create_segment(None, foreign_ledger, name="Foreign")
    benefit = services.create_benefit(
        None, foreign, name="Lounge", kind="service", parameters={"serviceCode": "lounge"}
    )
    client = as_user(operator)
    assert client.get(benefit_url("segment_benefits", foreign)).status_code == 404
    assert client.get(benefit_url("segment_benefit", foreign, benefit)).status_code == 404
    # A benefit of another segment under this segment's path is not found either.
    assert client.get(benefit_url("segment_benefit", black, benefit)).status_code == 404


def test_the_overview_lists_the_real_benefits(as_user, operator, black):
    client = as_user(operator)
    overview = url(
        "segment",
        organization_id=black.organization_id,
        ledger_id=black.ledger_id,
        segment_id=black.pk,
    )
    assert "This segment grants nothing yet." in client.get(overview).text
    services.create_benefit(
        operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    page = client.get(overview).text
    assert 'id="overview-benefits"' in page
    assert "Education cashback" in page and "2.5 % cashback on BRL, up to 50.00 a month" in page
