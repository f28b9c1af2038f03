"""Benefits in a real browser (issue #13 item 4): creating one from the segment's
Benefits tab (the dialog redraws its fields when the kind changes), the 9012 conflict
beside the group with a link to the other benefit, and "What this account gets"."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from segments import services
from segments.models import Account, Benefit
from tests.testing.browser import settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def black(operator, ledger):
    return services.create_segment(operator, ledger, name="Black")


def segment_page(page, segment, name: str = "console:segment_benefits") -> str:
    kwargs = {
        "organization_id": segment.organization_id,
        "ledger_id": segment.ledger_id,
        "segment_id": segment.pk,
    }
    return page.base_url + reverse(name, kwargs=kwargs)


def parameter(page, name: str):
    return page.locator(f'#dialog [name="parameters.{name}"]')


def field_of(page, name: str):
    """The field (label, input, help and errors) of the input named ``name``."""
    return page.locator("#dialog .field", has=page.locator(f'[name="{name}"]'))


def test_create_a_benefit_whose_fields_follow_its_kind(page, sign_in, operator, black):
    sign_in(operator)
    page.goto(segment_page(page, black, "console:segment"))
    page.locator("#page-tabs").get_by_role("link", name="Benefits").click()
    expect(page.get_by_text("This segment grants nothing yet")).to_be_visible()
    page.get_by_role("link", name="New benefit").first.click()
    expect(page.locator("#dialog")).to_be_visible()
    expect(parameter(page, "percentage")).to_be_visible()  # cashback first
    page.fill("#id_name", "VIP lounge")
    page.select_option("#id_kind", "service")
    expect(parameter(page, "serviceCode")).to_be_visible()
    expect(parameter(page, "percentage")).to_have_count(0)
    expect(page.locator("#id_name")).to_have_value("VIP lounge")  # kept through the redraw
    parameter(page, "serviceCode").fill("lounge")
    parameter(page, "allowance.count").fill("4")
    page.locator('#dialog [name="parameters.allowance.period"]').select_option("year")
    page.click("#dialog button[type=submit]")
    expect(page.locator("#dialog")).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Benefit created")
    expect(page.locator("#benefits-table")).to_contain_text("Service lounge, 4 a year")
    expect(page.locator("#page-tabs")).to_contain_text("Benefits (1)")
    benefit = Benefit.objects.get(segment=black)
    assert benefit.parameters == {
        "serviceCode": "lounge",
        "allowance": {"count": 4, "period": "year"},
    }
    assert page.console_errors == []


def test_a_bad_percentage_and_the_conflict_are_shown_beside_their_fields(
    page, sign_in, operator, black
):
    rival = services.create_benefit(
        operator, black, name="Airport lounge", kind="service",
        parameters={"serviceCode": "lounge"}, priority=10, exclusivity_group="lounge",
    )  # fmt: skip
    sign_in(operator)
    page.goto(segment_page(page, black))
    page.get_by_role("link", name="New benefit").first.click()
    page.fill("#id_name", "Launch cashback")
    parameter(page, "percentage").fill("101")
    parameter(page, "assetCode").fill("BRL")
    page.click("#dialog button[type=submit]")
    expect(field_of(page, "parameters.percentage").locator(".field-error")).to_have_text(
        "Must be more than 0 and at most 100."
    )
    settled(page)
    page.select_option("#id_kind", "service")
    parameter(page, "serviceCode").fill("concierge")
    page.fill("#id_priority", "10")
    page.fill("#id_exclusivity_group", "lounge")
    page.click("#dialog button[type=submit]")
    expect(field_of(page, "exclusivity_group").locator(".field-error")).to_contain_text(
        "“Airport lounge” is also active"
    )
    assert Benefit.objects.filter(segment=black).count() == 1
    page.locator("[data-conflict-link]").click()
    expect(page.locator("#benefit-title")).to_contain_text("Airport lounge")
    assert str(rival.pk) in page.url
    # The refusals are 422 answers, which the browser logs; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 422" not in e] == []


def test_the_account_page_says_what_it_gets(page, sign_in, operator, ledger, black):
    account = services.create_account(
        operator, ledger, name="Ana", type="deposit", asset_code="BRL"
    )
    services.assign_members(operator, black, account_ids=[account.pk])
    services.create_benefit(
        operator, black, name="Education cashback", kind="cashback",
        parameters={"percentage": "2.5", "assetCode": "BRL"},
    )  # fmt: skip
    services.create_benefit(
        operator, black, name="Launch bonus", kind="pointsMultiplier",
        parameters={"multiplier": "3"}, valid_from=timezone.now() - dt.timedelta(days=9),
        valid_until=timezone.now() - dt.timedelta(days=1),
    )  # fmt: skip
    services.create_benefit(
        operator, black, name="Next year", kind="service", parameters={"serviceCode": "gym"},
        valid_from=timezone.now() + dt.timedelta(days=365),
    )  # fmt: skip
    sign_in(operator)
    page.goto(
        page.base_url
        + reverse(
            "console:ledger_accounts",
            kwargs={"organization_id": ledger.organization_id, "ledger_id": ledger.pk},
        )
    )
    page.locator("#accounts-table").get_by_role("link", name="Ana").click()
    expect(page.locator("h1")).to_contain_text("Ana")
    gets = page.locator("#account-gets")
    expect(gets.locator("#gets-applied")).to_contain_text("2.5 % cashback on BRL")
    expect(gets.locator("#gets-not-applied")).to_contain_text("Launch bonus")
    expect(gets.locator("#gets-not-applied")).to_contain_text("Expired")
    expect(gets.locator("#gets-not-applied")).to_contain_text("Service gym — Not valid yet")
    # In 400 days the gym has started too.
    later = (timezone.now() + dt.timedelta(days=400)).astimezone(dt.UTC)
    page.fill("#gets-at", later.strftime("%Y-%m-%dT%H:%M"))
    gets.get_by_role("button", name="Show").click()
    expect(page.locator("#gets-applied")).to_contain_text("Service gym")
    expect(page.locator("#gets-not-applied")).not_to_contain_text("Next year")
    assert "at=" in page.url
    assert Account.objects.get(pk=account.pk).segment_id == black.pk
    assert page.console_errors == []
