"""The segment page: Overview (facts, metadata, counts incl. accounts reached through
portfolios), Members (searchable, paged, add through a picker, remove one or many) and
History (readable before → after)."""

import json

import pytest

from segments import services
from segments.models import Account, HistoryAction, Portfolio, SegmentHistory
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, LedgerFactory, PortfolioFactory

pytestmark = pytest.mark.django_db


def test_overview_facts_metadata_and_counts(as_user, operator, black, ledger, segment_kwargs):
    portfolio = Portfolio.objects.get(segment=black)
    AccountFactory(ledger=ledger, portfolio=portfolio)  # reached through its portfolio
    response = as_user(operator).get(url("segment", **segment_kwargs))
    text = response.text
    assert response.status_code == 200
    assert str(black.pk) in text
    assert "<code>tier</code></td><td>black</td>" in text
    assert "<code>lounge</code></td><td>true</td>" in text
    assert '<span class="stat__value">2</span>' in text  # accounts tagged
    assert '<span class="stat__value">1</span>' in text  # portfolios
    assert '<span class="stat__value">3</span>' in text  # accounts reached
    assert 'Members <span class="tab__count">(3)</span>' in text
    assert "Premium cards" in text


def test_segment_page_breadcrumb(as_user, operator, black, segment_kwargs, ledger_kwargs):
    text = as_user(operator).get(url("segment", **segment_kwargs)).text
    assert f'<a href="{url("ledger_segments", **ledger_kwargs)}">Segments</a>' in text
    assert '<span aria-current="page">Black</span>' in text


@pytest.mark.parametrize("tab", ["segment", "segment_members", "segment_history"])
def test_sub_tabs_full_and_partial(as_user, operator, black, segment_kwargs, tab):
    client = as_user(operator)
    full = client.get(url(tab, **segment_kwargs))
    partial = client.get(url(tab, **segment_kwargs), headers=htmx("tab-body"))
    assert "<html" in full.text and "<html" not in partial.text
    assert partial.status_code == 200


def test_members_lists_accounts_and_portfolios(as_user, operator, black, segment_kwargs):
    client = as_user(operator)
    accounts = client.get(url("segment_members", **segment_kwargs))
    for account in Account.objects.filter(segment=black):
        assert account.alias in accounts.text
    portfolios = client.get(url("segment_members", **segment_kwargs), {"kind": "portfolios"})
    assert Portfolio.objects.get(segment=black).name in portfolios.text
    assert 'Accounts <span class="tab__count">(2)</span>' in portfolios.text


def test_members_search(as_user, operator, black, segment_kwargs):
    first, second = Account.objects.filter(segment=black)
    response = as_user(operator).get(
        url("segment_members", **segment_kwargs), {"q": second.alias}, headers=htmx("members-table")
    )
    assert second.alias in response.text and first.alias not in response.text


def test_members_paging(as_user, operator, black, ledger, segment_kwargs):
    extra = AccountFactory.create_batch(12, ledger=ledger)
    services.assign_members(operator, black, account_ids=[a.pk for a in extra])
    response = as_user(operator).get(
        url("segment_members", **segment_kwargs), {"page": 2}, headers=htmx("members-table")
    )
    assert "Showing 11–14 of 14" in response.text


@pytest.mark.parametrize("rows", [10, 50])
def test_members_query_count_does_not_grow_with_rows(
    as_user, operator, black, ledger, segment_kwargs, rows, django_assert_max_num_queries
):
    portfolio = PortfolioFactory(ledger=ledger)
    extra = AccountFactory.create_batch(rows, ledger=ledger, portfolio=portfolio)
    services.assign_members(operator, black, account_ids=[a.pk for a in extra])
    client = as_user(operator)
    with django_assert_max_num_queries(11):
        response = client.get(url("segment_members", **segment_kwargs), {"limit": 100})
    assert response.text.count("data-row-check") == rows + 2


def test_picker_searches_accounts_not_yet_members(as_user, operator, black, ledger, segment_kwargs):
    outsider_ledger_account = AccountFactory(ledger=LedgerFactory(organization=ledger.organization))
    candidate = AccountFactory(ledger=ledger, name="Joana")
    member = Account.objects.filter(segment=black).first()
    client = as_user(operator)
    response = client.get(url("segment_members_add", **segment_kwargs), headers=htmx("dialog-body"))
    assert candidate.alias in response.text
    assert member.alias not in response.text
    assert outsider_ledger_account.alias not in response.text  # other ledger
    results = client.get(
        url("segment_members_add", **segment_kwargs), {"q": "joa"}, headers=htmx("picker-results")
    )
    assert results.text.lstrip().startswith('<div id="picker-results"')
    assert "Joana" in results.text


def test_picker_keeps_checked_rows_across_searches(
    as_user, operator, black, ledger, segment_kwargs
):
    kept = AccountFactory(ledger=ledger, name="Kept")
    response = as_user(operator).get(
        url("segment_members_add", **segment_kwargs),
        {"q": "nothing-matches", "account_ids": [str(kept.pk)]},
        headers=htmx("picker-results"),
    )
    assert "Selected earlier:" in response.text
    assert f'value="{kept.pk}" checked' in response.text


def test_add_three_accounts(as_user, operator, black, ledger, segment_kwargs):
    new = AccountFactory.create_batch(3, ledger=ledger)
    response = as_user(operator).post(
        url("segment_members_add", **segment_kwargs),
        {"kind": "accounts", "account_ids": [str(a.pk) for a in new]},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert events["members-changed"] and events["toast"]["message"] == "3 accounts added"
    assert Account.objects.filter(segment=black).count() == 5


def test_add_nothing_is_an_error(as_user, operator, black, segment_kwargs):
    response = as_user(operator).post(
        url("segment_members_add", **segment_kwargs),
        {"kind": "accounts"},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "Select at least one row to add." in response.text


def test_inactive_segment_accepts_no_members(as_user, operator, black, ledger, segment_kwargs):
    services.update_segment(operator, black, {"status_code": "INACTIVE"})
    account = AccountFactory(ledger=ledger)
    response = as_user(operator).post(
        url("segment_members_add", **segment_kwargs),
        {"account_ids": [str(account.pk)]},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "only active segments accept members" in response.text
    page = as_user(operator).get(url("segment_members", **segment_kwargs))
    assert "Only active segments accept new members." in page.text


def test_remove_one_and_many(as_user, operator, black, segment_kwargs):
    first, second = Account.objects.filter(segment=black)
    client = as_user(operator)
    remove_url = url("segment_members_remove", **segment_kwargs)
    response = client.post(remove_url, {"account_ids": [str(first.pk)]}, headers=htmx())
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "1 account removed"
    portfolio = Portfolio.objects.get(segment=black)
    response = client.post(
        remove_url,
        {"account_ids": [str(second.pk)], "portfolio_ids": [str(portfolio.pk)]},
        headers=htmx(),
    )
    assert response.status_code == 204
    assert not Account.objects.filter(segment=black).exists()
    assert not Portfolio.objects.filter(segment=black).exists()
    assert (
        SegmentHistory.objects.filter(segment=black, action=HistoryAction.MEMBERS_REMOVED).count()
        == 2
    )


def test_remove_a_non_member_is_refused(as_user, operator, black, ledger, segment_kwargs):
    stranger = AccountFactory(ledger=ledger)
    response = as_user(operator).post(
        url("segment_members_remove", **segment_kwargs),
        {"account_ids": [str(stranger.pk)]},
        headers=htmx(),
    )
    assert response.status_code == 422
    assert "no longer members" in json.loads(response["HX-Trigger"])["toast"]["message"]


def test_viewer_sees_members_without_controls_and_cannot_change_them(
    as_user, users, black, ledger, segment_kwargs
):
    client = as_user(users["viewer"])
    text = client.get(url("segment_members", **segment_kwargs)).text
    assert "Add accounts" not in text and "data-row-check" not in text and "Remove" not in text
    assert "Edit</a>" not in text
    account = AccountFactory(ledger=ledger)
    assert client.get(url("segment_members_add", **segment_kwargs)).status_code == 403
    assert (
        client.post(
            url("segment_members_add", **segment_kwargs), {"account_ids": [str(account.pk)]}
        ).status_code
        == 403
    )
    member = Account.objects.filter(segment=black).first()
    assert (
        client.post(
            url("segment_members_remove", **segment_kwargs), {"account_ids": [str(member.pk)]}
        ).status_code
        == 403
    )


def test_history_is_readable(as_user, operator, black, segment_kwargs):
    services.update_segment(
        operator, black, {"name": "Black Premium", "metadata": {"tier": None, "new": "x"}}
    )
    text = as_user(operator).get(url("segment_history", **segment_kwargs)).text
    assert "Updated" in text and "by operator" in text
    assert '<span class="changes__before">Black</span>' in text
    assert '<span class="changes__after">Black Premium</span>' in text
    assert "Metadata “tier”" in text and "(removed)" in text
    assert "Metadata “new”" in text and "(added)" in text
    assert "Added 2 accounts and 1 portfolio." in text
    assert "Created" in text


def test_organization_segment_pages(as_user, operator, ledger):
    private = services.create_segment(operator, ledger.organization, name="Private")
    other_ledger = LedgerFactory(organization=ledger.organization, name="Banking")
    here, there = AccountFactory(ledger=ledger), AccountFactory(ledger=other_ledger)
    kwargs = {"organization_id": ledger.organization_id, "segment_id": private.pk}
    client = as_user(operator)
    picker = client.get(url("org_segment_members_add", **kwargs), headers=htmx("dialog-body"))
    assert here.alias in picker.text and there.alias in picker.text  # every ledger
    client.post(
        url("org_segment_members_add", **kwargs),
        {"account_ids": [str(here.pk), str(there.pk)]},
        headers=htmx(),
    )
    members = client.get(url("org_segment_members", **kwargs)).text
    assert "Banking" in members and "Cards" in members  # ledger column
    overview = client.get(url("org_segment", **kwargs)).text
    assert "Organization segment" in overview and "Organization-wide" in overview
    # the organization segment is not reachable under a ledger path
    assert client.get(url("segment", ledger_id=ledger.pk, **kwargs)).status_code == 404
