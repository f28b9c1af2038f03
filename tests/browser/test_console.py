"""The console in a real browser: dialogs, htmx swaps, toasts, search, paging, bulk
actions and roles, end to end."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from segments import services
from segments.models import Account, Portfolio, Segment
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory
from tests.testing.browser import settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def segments_page(page, ledger):
    return page.base_url + reverse(
        "console:ledger_segments",
        kwargs={"organization_id": ledger.organization_id, "ledger_id": ledger.pk},
    )


def open_new_segment(page):
    page.get_by_role("link", name="New segment").first.click()
    expect(page.locator("#dialog")).to_be_visible()
    expect(page.locator("#id_name")).to_be_focused()


def add_metadata(page, key, value):
    page.click("[data-metadata-add]")
    page.locator("[name=metadata_key]").last.fill(key)
    page.locator("[name=metadata_value]").last.fill(value)


def test_create_a_segment_with_two_metadata_entries(page, sign_in, operator, ledger, segments_page):
    sign_in(operator)
    page.goto(segments_page)
    expect(page.get_by_text("No segments in this ledger yet")).to_be_visible()
    open_new_segment(page)
    page.fill("#id_name", "Black")
    page.fill("#id_description", "Premium cards")
    add_metadata(page, "tier", "black")
    add_metadata(page, "lounge", "yes")
    page.click("#dialog button[type=submit]")
    expect(page.locator("#dialog")).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Segment created")
    expect(page.locator("#segments-table")).to_contain_text("Black")
    expect(page.locator("#segments-table")).to_contain_text("2 entries")
    expect(page.locator("#page-tabs")).to_contain_text("Segments (1)")
    segment = Segment.objects.get(ledger=ledger)
    assert segment.metadata == {"tier": "black", "lounge": "yes"}
    # the strict Content Security Policy refused nothing, and no script failed
    assert page.console_errors == []


def test_duplicate_name_shows_the_error_under_name(page, sign_in, operator, ledger, segments_page):
    SegmentFactory(ledger=ledger, name="Black")
    sign_in(operator)
    page.goto(segments_page)
    open_new_segment(page)
    page.fill("#id_name", "black")
    add_metadata(page, "tier", "typed")
    page.click("#dialog button[type=submit]")
    name_field = page.locator(".field", has=page.locator("#id_name"))
    expect(name_field.locator(".field-error")).to_have_text(
        "A segment with this name already exists in this ledger."
    )
    expect(page.locator("#dialog")).to_be_visible()
    expect(page.locator("#id_name")).to_have_value("black")
    expect(page.locator("[name=metadata_value]")).to_have_value("typed")
    assert Segment.objects.filter(ledger=ledger).count() == 1


def test_double_click_on_save_creates_one_segment(page, sign_in, operator, ledger, segments_page):
    sign_in(operator)
    page.goto(segments_page)
    open_new_segment(page)
    page.fill("#id_name", "Once")
    page.locator("#dialog button[type=submit]").dblclick()
    expect(page.locator("#dialog")).to_be_hidden()
    expect(page.locator("#segments-table")).to_contain_text("Once")
    assert Segment.objects.filter(ledger=ledger, name="Once").count() == 1


def test_search_by_name_fragment_and_by_full_id(page, sign_in, operator, ledger, segments_page):
    black = SegmentFactory(ledger=ledger, name="Black")
    SegmentFactory(ledger=ledger, name="Student")
    SegmentFactory(ledger=ledger, name="Platinum")
    sign_in(operator)
    page.goto(segments_page)
    rows = page.locator("#segments-table .row-title")
    expect(rows).to_have_count(3)
    page.fill("#segments-q", "tud")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("Student")
    assert "q=tud" in page.url
    page.fill("#segments-q", str(black.pk))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("Black")
    page.fill("#segments-q", "nothing-like-this")
    expect(page.get_by_text("No segment matches your search")).to_be_visible()
    page.reload()
    expect(page.locator("#segments-q")).to_have_value("nothing-like-this")


def test_paging_shows_correct_totals(page, sign_in, operator, ledger, segments_page):
    start = timezone.now() - dt.timedelta(days=1)
    for index in range(57):
        SegmentFactory(
            ledger=ledger,
            name=f"Segment {index:02d}",
            created_at=start + dt.timedelta(minutes=index),
        )
    sign_in(operator)
    page.goto(segments_page)
    pager = page.locator("#segments-table .pager")
    expect(pager).to_contain_text("Showing 1–10 of 57")
    expect(pager.locator(".is-disabled", has_text="Previous")).to_be_visible()
    pager.get_by_role("link", name="Next").click()
    expect(pager).to_contain_text("Showing 11–20 of 57")
    assert "page=2" in page.url
    settled(page)
    page.select_option("#segments-limit", "50")
    expect(page.locator("#segments-table .pager")).to_contain_text("Showing 1–50 of 57")
    settled(page)
    page.locator("#segments-table .pager").get_by_role("link", name="Next").click()
    expect(page.locator("#segments-table .pager")).to_contain_text("Showing 51–57 of 57")
    expect(page.locator("#segments-table .pager .is-disabled", has_text="Next")).to_be_visible()
    page.go_back()
    expect(page.locator("#segments-table .pager")).to_contain_text("Showing 1–50 of 57")


def test_edit_and_remove_one_metadata_key(page, sign_in, operator, ledger, segments_page):
    segment = services.create_segment(
        operator,
        ledger,
        name="Black",
        metadata={"tier": "black", "lounge": "yes"},
    )
    sign_in(operator)
    page.goto(segments_page)
    page.locator("#segments-table tr", has_text="Black").get_by_role("link", name="Edit").click()
    expect(page.locator("#dialog")).to_be_visible()
    expect(page.locator("#dialog")).to_contain_text(str(segment.pk))
    row = page.locator("[data-metadata-row]", has=page.locator("[name=metadata_key][value=lounge]"))
    row.locator("[data-metadata-remove]").click()
    page.fill("#id_name", "Black Premium")
    page.click("#dialog button[type=submit]")
    expect(page.locator("#toasts")).to_contain_text("Segment updated")
    expect(page.locator("#segments-table")).to_contain_text("Black Premium")
    # verified through the API (session-authenticated)
    api = page.request.get(
        f"{page.base_url}/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/{segment.pk}"
    )
    assert api.ok, api.status
    body = api.json()
    assert body["name"] == "Black Premium"
    assert body["metadata"] == {"tier": "black"}


def test_delete_a_segment_with_members_warns_and_detaches(
    page, sign_in, admin_user, ledger, segments_page
):
    segment = services.create_segment(admin_user, ledger, name="Black")
    accounts = AccountFactory.create_batch(2, ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger)
    services.assign_members(
        admin_user, segment, account_ids=[a.pk for a in accounts], portfolio_ids=[portfolio.pk]
    )
    sign_in(admin_user)
    page.goto(segments_page)
    page.locator("#segments-table tr", has_text="Black").get_by_role("link", name="Delete").click()
    dialog = page.locator("#dialog")
    expect(dialog.locator("#dialog-title")).to_have_text('Delete segment "Black"?')
    expect(dialog).to_contain_text("2 accounts")
    expect(dialog).to_contain_text("1 portfolio")
    dialog.get_by_role("button", name="Detach members and delete").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("deleted")
    expect(page.get_by_text("No segments in this ledger yet")).to_be_visible()
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not Account.objects.filter(
        pk__in=[a.pk for a in accounts], segment__isnull=False
    ).exists()
    assert Portfolio.objects.get(pk=portfolio.pk).segment_id is None


def test_add_three_accounts_from_the_members_tab_and_remove_one(page, sign_in, operator, ledger):
    segment = services.create_segment(operator, ledger, name="Black")
    for name in ("Ana", "Bruno", "Carla", "Diego"):
        AccountFactory(ledger=ledger, name=name)
    sign_in(operator)
    page.goto(
        page.base_url
        + reverse(
            "console:segment",
            kwargs={
                "organization_id": ledger.organization_id,
                "ledger_id": ledger.pk,
                "segment_id": segment.pk,
            },
        )
    )
    page.locator("#page-tabs").get_by_role("link", name=re.compile("Members")).click()
    expect(page.get_by_text("No accounts in this segment yet")).to_be_visible()
    assert page.url.endswith("/members/")
    page.get_by_role("link", name="Add accounts").first.click()
    picker = page.locator("#dialog")
    expect(picker.locator("#picker-q")).to_be_focused()
    page.fill("#picker-q", "ana")
    picker.locator(".picker__row", has_text="Ana").locator("input").check()
    page.fill("#picker-q", "")
    expect(picker.locator(".picker__row")).to_have_count(4)
    for name in ("Bruno", "Carla"):
        picker.locator(".picker__row", has_text=name).locator("input").check()
    expect(picker.locator(".picker__row", has_text="Ana").locator("input")).to_be_checked()
    picker.get_by_role("button", name="Add selected").click()
    expect(picker).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("3 accounts added")
    table = page.locator("#members-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#page-tabs")).to_contain_text("Members (3)")
    table.locator("tr", has_text="Bruno").get_by_role("button", name=re.compile("Remove")).click()
    expect(page.locator("#toasts")).to_contain_text("1 account removed")
    expect(table.locator("tbody tr")).to_have_count(2)
    assert set(Account.objects.filter(segment=segment).values_list("name", flat=True)) == {
        "Ana",
        "Carla",
    }


def test_bulk_set_a_segment_on_two_accounts(page, sign_in, operator, ledger):
    black = services.create_segment(operator, ledger, name="Black")
    for name in ("Ana", "Bruno", "Carla"):
        AccountFactory(ledger=ledger, name=name)
    sign_in(operator)
    page.goto(
        page.base_url
        + reverse(
            "console:ledger_accounts",
            kwargs={"organization_id": ledger.organization_id, "ledger_id": ledger.pk},
        )
    )
    bar = page.locator("#accounts-bulk")
    expect(bar.get_by_role("button", name="Set segment")).to_be_disabled()
    table = page.locator("#accounts-table")
    table.locator("tr", has_text="Ana").locator("[data-row-check]").check()
    table.locator("tr", has_text="Carla").locator("[data-row-check]").check()
    expect(bar).to_contain_text("2 selected")
    bar.locator("[data-filter-select]").fill("bla")
    expect(bar.locator("select")).to_have_value(str(black.pk))
    bar.get_by_role("button", name="Set segment").click()
    expect(page.locator("#toasts")).to_contain_text("Segment set on 2 accounts")
    expect(table.locator("tr", has_text="Ana")).to_contain_text("Black")
    expect(table.locator("tr", has_text="Bruno")).not_to_contain_text("Black")
    assert set(Account.objects.filter(segment=black).values_list("name", flat=True)) == {
        "Ana",
        "Carla",
    }


def test_a_viewer_sees_no_new_edit_or_delete(page, sign_in, users, ledger, segments_page):
    SegmentFactory(ledger=ledger, name="Black")
    sign_in(users["viewer"])
    page.goto(segments_page)
    expect(page.locator("#segments-table")).to_contain_text("Black")
    expect(page.get_by_role("link", name="New segment")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.get_by_role("link", name="Details")).to_have_count(1)


def test_tabs_swap_with_htmx_and_escape_closes_the_dialog(
    page, sign_in, operator, ledger, segments_page
):
    sign_in(operator)
    page.goto(segments_page)
    page.locator("#page-tabs").get_by_role("link", name=re.compile("Accounts")).click()
    expect(page.locator("#breadcrumb [aria-current]")).to_have_text("Accounts")
    assert page.url.endswith("/accounts/")
    page.go_back()
    expect(page.locator("#segments-table")).to_be_visible()
    open_new_segment(page)
    page.keyboard.press("Escape")
    expect(page.locator("#dialog")).to_be_hidden()
    page.goto(segments_page + "?create=1")
    expect(page.locator("#dialog")).to_be_visible()
    assert "create=1" not in page.url


def test_copy_id_shows_id_copied(page, sign_in, operator, ledger, segments_page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    segment = SegmentFactory(ledger=ledger, name="Black")
    sign_in(operator)
    page.goto(segments_page)
    page.locator(f'[data-copy="{segment.pk}"]').click()
    expect(page.locator("#toasts")).to_contain_text("ID copied")


def test_edit_from_the_segment_page_refreshes_it(page, sign_in, operator, ledger):
    segment = services.create_segment(operator, ledger, name="Black")
    sign_in(operator)
    page.goto(
        page.base_url
        + reverse(
            "console:segment",
            kwargs={
                "organization_id": ledger.organization_id,
                "ledger_id": ledger.pk,
                "segment_id": segment.pk,
            },
        )
    )
    page.locator(".page-header").get_by_role("link", name="Edit").click()
    page.fill("#id_name", "Onyx")
    page.select_option("#id_status", "INACTIVE")
    page.click("#dialog button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Onyx")
    expect(page.locator("h1 .badge")).to_have_text("Inactive")
    expect(page.locator("#breadcrumb")).to_contain_text("Onyx")
    page.locator("#page-tabs").get_by_role("link", name="History").click()
    expect(page.locator(".timeline__item").first).to_contain_text("Black")
    expect(page.locator(".timeline__item").first).to_contain_text("Onyx")
    assert page.console_errors == []


def test_language_switcher(page, sign_in, operator, ledger, segments_page):
    sign_in(operator)
    page.goto(segments_page + "?q=x")
    page.select_option("#language-select", "pt-br")
    expect(page.locator("h1 + .page-subtitle")).to_have_text("Gerencie os segmentos deste ledger.")
    assert page.url.endswith("/segments/?q=x")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.select_option("#language-select", "en")
    expect(page.locator("h1 + .page-subtitle")).to_have_text("Manage the segments of this ledger.")
