"""Accounts and Portfolios tabs: a Segment column (organization segments marked), a
filter by segment incl. "No segment", create/edit with a searchable Segment select
that offers "None", and bulk Set / Clear segment in one service call."""

import json

import pytest

from segments import services
from segments.models import Account, Portfolio
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, PortfolioFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def private(operator, ledger):
    return services.create_segment(operator, ledger.organization, name="Private")


def test_accounts_tab_shows_segments_and_marks_organization_ones(
    as_user, operator, black, private, ledger, ledger_kwargs
):
    org_member = AccountFactory(ledger=ledger, name="Org member")
    services.assign_members(operator, private, account_ids=[org_member.pk])
    portfolio = Portfolio.objects.get(segment=black)
    AccountFactory(ledger=ledger, name="Via portfolio", portfolio=portfolio)
    text = as_user(operator).get(url("ledger_accounts", **ledger_kwargs)).text
    assert 'class="segment-tag"' in text and ">Black</a>" in text
    assert '>Private</a> <span class="badge badge--org"' in text
    assert "via portfolio: Black" in text


def test_accounts_filter_by_segment_and_by_none(as_user, operator, black, ledger, ledger_kwargs):
    loose = AccountFactory(ledger=ledger, name="Loose")
    client = as_user(operator)
    tab = url("ledger_accounts", **ledger_kwargs)
    in_black = client.get(tab, {"segment_id": str(black.pk)}, headers=htmx("accounts-table")).text
    assert "Loose" not in in_black and in_black.count("data-row-check") == 2
    none = client.get(tab, {"segment_id": "none"}, headers=htmx("accounts-table")).text
    assert loose.alias in none and none.count("data-row-check") == 1


def test_filter_select_offers_no_segment_and_every_usable_segment(
    as_user, operator, black, private, ledger_kwargs
):
    text = as_user(operator).get(url("ledger_accounts", **ledger_kwargs)).text
    assert '<option value="none"' in text and "No segment" in text
    assert f'<option value="{black.pk}"' in text and f'<option value="{private.pk}"' in text


def test_accounts_search(as_user, operator, ledger, ledger_kwargs):
    AccountFactory(ledger=ledger, name="Joana Silva")
    AccountFactory(ledger=ledger, name="Pedro")
    text = (
        as_user(operator)
        .get(
            url("ledger_accounts", **ledger_kwargs), {"q": "joana"}, headers=htmx("accounts-table")
        )
        .text
    )
    assert "Joana Silva" in text and "Pedro" not in text


def test_create_account_with_segment(as_user, operator, black, ledger, ledger_kwargs):
    client = as_user(operator)
    form = client.get(url("account_create", **ledger_kwargs), headers=htmx("dialog-body"))
    assert 'data-filter-select="id_segment_id"' in form.text
    assert '<option value="" selected>None</option>' in form.text
    response = client.post(
        url("account_create", **ledger_kwargs),
        {
            "name": "New",
            "alias": "@new",
            "type": "deposit",
            "asset_code": "BRL",
            "segment_id": str(black.pk),
            "status": "ACTIVE",
        },
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Account created"
    assert Account.objects.get(alias="@new").segment_id == black.pk


def test_create_account_errors_beside_fields(as_user, operator, ledger, ledger_kwargs):
    AccountFactory(ledger=ledger, alias="@taken")
    response = as_user(operator).post(
        url("account_create", **ledger_kwargs),
        {"alias": "@taken", "type": "deposit", "asset_code": "BRL", "status": "ACTIVE"},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    alias_field = response.text[
        response.text.index('for="id_alias"') : response.text.index('for="id_type"')
    ]
    assert "An account with this alias already exists in this ledger." in alias_field
    missing = as_user(operator).post(
        url("account_create", **ledger_kwargs),
        {"type": "", "asset_code": "BRL", "status": "ACTIVE"},
        headers=htmx("dialog-body"),
    )
    assert "This field is required." in missing.text


def test_edit_account_sets_and_clears_the_segment(as_user, operator, black, ledger, ledger_kwargs):
    account = AccountFactory(ledger=ledger)
    edit = url("account_edit", account_id=account.pk, **ledger_kwargs)
    client = as_user(operator)
    base = {"name": account.name, "status": "ACTIVE", "entity_id": "", "portfolio_id": ""}
    assert (
        client.post(
            edit, base | {"segment_id": str(black.pk)}, headers=htmx("dialog-body")
        ).status_code
        == 204
    )
    account.refresh_from_db()
    assert account.segment_id == black.pk
    assert (
        client.post(edit, base | {"segment_id": ""}, headers=htmx("dialog-body")).status_code == 204
    )
    account.refresh_from_db()
    assert account.segment_id is None


def test_edit_keeps_membership_in_a_segment_that_became_inactive(
    as_user, operator, black, ledger_kwargs
):
    services.update_segment(operator, black, {"status_code": "INACTIVE"})
    account = Account.objects.filter(segment=black).first()
    response = as_user(operator).post(
        url("account_edit", account_id=account.pk, **ledger_kwargs),
        {"name": "Renamed", "status": "ACTIVE", "segment_id": str(black.pk), "portfolio_id": ""},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    account.refresh_from_db()
    assert account.name == "Renamed" and account.segment_id == black.pk


def test_inactive_segment_refused_beside_the_segment_field(
    as_user, operator, black, ledger, ledger_kwargs
):
    services.update_segment(operator, black, {"status_code": "INACTIVE"})
    account = AccountFactory(ledger=ledger)
    response = as_user(operator).post(
        url("account_edit", account_id=account.pk, **ledger_kwargs),
        {"name": "x", "status": "ACTIVE", "segment_id": str(black.pk), "portfolio_id": ""},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "only active segments accept members" in response.text


def test_portfolio_create_and_edit(as_user, operator, black, ledger, ledger_kwargs):
    client = as_user(operator)
    response = client.post(
        url("portfolio_create", **ledger_kwargs),
        {"name": "Wealth", "entity_id": "H-1", "segment_id": str(black.pk), "status": "ACTIVE"},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 204
    portfolio = Portfolio.objects.get(name="Wealth")
    assert portfolio.segment_id == black.pk
    response = client.post(
        url("portfolio_edit", portfolio_id=portfolio.pk, **ledger_kwargs),
        {"name": "", "status": "ACTIVE", "segment_id": ""},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "This field is required." in response.text


def test_bulk_set_segment_on_two_accounts(as_user, operator, black, ledger, ledger_kwargs):
    first, second = AccountFactory.create_batch(2, ledger=ledger)
    response = as_user(operator).post(
        url("accounts_bulk_segment", **ledger_kwargs),
        {
            "action": "set",
            "segment_id": str(black.pk),
            "account_ids": [str(first.pk), str(second.pk)],
        },
        headers=htmx(),
    )
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert events["accounts-changed"] and events["toast"]["message"] == "Segment set on 2 accounts"
    assert set(Account.objects.filter(segment=black).values_list("pk", flat=True)) >= {
        first.pk,
        second.pk,
    }


def test_bulk_clear_segment_across_segments(
    as_user, operator, black, private, ledger, ledger_kwargs
):
    in_private = AccountFactory(ledger=ledger)
    services.assign_members(operator, private, account_ids=[in_private.pk])
    in_black = Account.objects.filter(segment=black).first()
    response = as_user(operator).post(
        url("accounts_bulk_segment", **ledger_kwargs),
        {"action": "clear", "account_ids": [str(in_private.pk), str(in_black.pk)]},
        headers=htmx(),
    )
    assert response.status_code == 204
    assert (
        Account.objects.filter(pk__in=[in_private.pk, in_black.pk], segment__isnull=False).count()
        == 0
    )


def test_bulk_portfolios(as_user, operator, black, ledger, ledger_kwargs):
    portfolio = PortfolioFactory(ledger=ledger)
    client = as_user(operator)
    bulk = url("portfolios_bulk_segment", **ledger_kwargs)
    assert (
        client.post(
            bulk,
            {"action": "set", "segment_id": str(black.pk), "portfolio_ids": [str(portfolio.pk)]},
            headers=htmx(),
        ).status_code
        == 204
    )
    portfolio.refresh_from_db()
    assert portfolio.segment_id == black.pk


def test_bulk_without_rows_or_segment_is_refused(as_user, operator, black, ledger, ledger_kwargs):
    client = as_user(operator)
    bulk = url("accounts_bulk_segment", **ledger_kwargs)
    nothing = client.post(bulk, {"action": "set", "segment_id": str(black.pk)}, headers=htmx())
    assert nothing.status_code == 422
    assert "Select at least one row first." in json.loads(nothing["HX-Trigger"])["toast"]["message"]
    account = AccountFactory(ledger=ledger)
    no_segment = client.post(
        bulk, {"action": "set", "account_ids": [str(account.pk)]}, headers=htmx()
    )
    assert no_segment.status_code == 422


def test_bulk_refuses_another_ledgers_accounts(
    as_user, operator, black, other_ledger, ledger_kwargs
):
    foreign = AccountFactory(ledger=other_ledger)
    response = as_user(operator).post(
        url("accounts_bulk_segment", **ledger_kwargs),
        {"action": "clear", "account_ids": [str(foreign.pk)]},
        headers=htmx(),
    )
    assert response.status_code == 422


def test_viewer_sees_no_write_controls_and_is_refused(as_user, users, black, ledger, ledger_kwargs):
    client = as_user(users["viewer"])
    for tab in ("ledger_accounts", "ledger_portfolios"):
        text = client.get(url(tab, **ledger_kwargs)).text
        assert (
            "data-row-check" not in text and "Set segment" not in text and "New account" not in text
        )
        assert "New portfolio" not in text and "Edit</a>" not in text
    account = AccountFactory(ledger=ledger)
    assert (
        client.post(
            url("accounts_bulk_segment", **ledger_kwargs),
            {"action": "clear", "account_ids": [str(account.pk)]},
        ).status_code
        == 403
    )
    assert client.get(url("account_create", **ledger_kwargs)).status_code == 403
    assert (
        client.get(url("account_edit", account_id=account.pk, **ledger_kwargs)).status_code == 403
    )


def test_accounts_tab_query_count_is_bounded(
    as_user, operator, black, ledger, ledger_kwargs, django_assert_max_num_queries
):
    portfolio = PortfolioFactory(ledger=ledger, segment=black)
    AccountFactory.create_batch(40, ledger=ledger, portfolio=portfolio)
    client = as_user(operator)
    with django_assert_max_num_queries(11):
        response = client.get(url("ledger_accounts", **ledger_kwargs), {"limit": 50})
    assert response.text.count("data-row-check") == 42
