"""History entries name the members they added or removed: up to ten by name (an
account by its alias, a portfolio by its name), then "and N more" — in the console's
History tab and in the admin, in English and Brazilian Portuguese, with a fixed number
of queries however many entries a page shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from segments import services
from segments.models import Role
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory, UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(organization):
    user = UserFactory(username="history-operator")
    member(user, organization, Role.OPERATOR)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def history_url(segment) -> str:
    return reverse(
        "console:segment_history",
        kwargs={
            "organization_id": segment.organization_id,
            "ledger_id": segment.ledger_id,
            "segment_id": segment.pk,
        },
    )


def test_console_history_names_up_to_ten_members_then_how_many_more(operator_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    accounts = [AccountFactory(ledger=ledger, alias=f"@member-{i:02}") for i in range(12)]
    services.assign_members(operator_client.user, segment, account_ids=[a.pk for a in accounts])
    text = operator_client.get(history_url(segment)).content.decode()
    assert "Added 12 accounts." in text
    shown = [f"@member-{i:02}" for i in range(12) if f"@member-{i:02}" in text]
    assert len(shown) == 10
    assert "and 2 more" in text


def test_console_history_names_a_removed_portfolio_and_account(operator_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    account = AccountFactory(ledger=ledger, alias="@ana", segment=segment)
    portfolio = PortfolioFactory(ledger=ledger, name="Family office", segment=segment)
    services.remove_members(
        operator_client.user, segment, account_ids=[account.pk], portfolio_ids=[portfolio.pk]
    )
    text = operator_client.get(history_url(segment)).content.decode()
    assert "Removed 1 account and 1 portfolio." in text
    assert "@ana, Family office" in text
    assert "and 1 more" not in text


def test_console_history_names_members_in_portuguese(operator_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    accounts = [AccountFactory(ledger=ledger, alias=f"@pt-{i:02}") for i in range(11)]
    services.assign_members(operator_client.user, segment, account_ids=[a.pk for a in accounts])
    response = operator_client.get(history_url(segment), headers={"accept-language": "pt-br"})
    text = response.content.decode()
    assert "e mais 1" in text
    assert "@pt-00" in text


def test_history_tab_queries_do_not_grow_with_entries(operator_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(history_url(segment)).status_code == 200
        return len(captured)

    def add_members(i: int) -> None:
        extra = AccountFactory(ledger=ledger, alias=f"@more-{i}")
        portfolio = PortfolioFactory(ledger=ledger, name=f"P{i}")
        services.assign_members(
            operator_client.user, segment, account_ids=[extra.pk], portfolio_ids=[portfolio.pk]
        )

    add_members(0)
    few = queries()
    for i in range(1, 9):
        add_members(i)
    assert queries() == few


def test_admin_history_list_and_segment_page_name_members(
    client, ledger, django_assert_max_num_queries
):
    staff = UserFactory(username="history-staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    segment = SegmentFactory(ledger=ledger, name="Black")
    for i in range(5):
        account = AccountFactory(ledger=ledger, alias=f"@adm-{i}")
        services.assign_members(staff, segment, account_ids=[account.pk])
    with django_assert_max_num_queries(12):
        listing = client.get(reverse("admin:segments_segmenthistory_changelist"))
    text = listing.content.decode()
    assert all(f"+1 account: @adm-{i}" in text for i in range(5))
    page = client.get(reverse("admin:segments_segment_change", args=[segment.pk]))
    assert "+1 account: @adm-4" in page.content.decode()
