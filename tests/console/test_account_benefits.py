"""An account's page and its "What this account gets" (issue #13 item 4), through
rendered HTML: what applies, what does not and why, through the portfolio when the
account has no segment of its own, at a past instant, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from segments import services
from segments.models import Account
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, PortfolioFactory

pytestmark = pytest.mark.django_db

CASHBACK = {"percentage": "2.5", "assetCode": "BRL"}
LOUNGE = {"serviceCode": "lounge"}


def account_url(account: Account) -> str:
    return url(
        "account",
        organization_id=account.organization_id,
        ledger_id=account.ledger_id,
        account_id=account.pk,
    )


def section(html: str, element_id: str) -> str:
    """The inner HTML of the list with ``element_id`` (empty when absent)."""
    found = re.search(rf'id="{element_id}"(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def benefits(operator, black):
    now = timezone.now()
    create = services.create_benefit
    return {
        "cashback": create(
            operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
        ),
        "airport": create(
            operator, black, name="Airport lounge", kind="service", parameters=LOUNGE,
            priority=10, exclusivity_group="lounge",
        ),
        "city": create(
            operator, black, name="City lounge", kind="service", parameters=LOUNGE,
            priority=20, exclusivity_group="lounge",
        ),
        "launch": create(
            operator, black, name="Launch bonus", kind="pointsMultiplier",
            parameters={"multiplier": "3"}, valid_until=now - dt.timedelta(days=1),
            valid_from=now - dt.timedelta(days=30),
        ),
        "future": create(
            operator, black, name="Next year", kind="pointsMultiplier",
            parameters={"multiplier": "2"}, valid_from=now + dt.timedelta(days=365),
        ),
        "paused": create(
            operator, black, name="Paused concierge", kind="service",
            parameters={"serviceCode": "concierge"}, status_code="INACTIVE",
        ),
    }  # fmt: skip


def test_the_page_says_what_applies_and_why_the_rest_does_not(as_user, operator, black, benefits):
    account = Account.objects.filter(segment=black).first()
    html = as_user(operator).get(account_url(account)).text
    assert "What this account gets" in html
    assert re.search(r"In segment <a [^>]*>Black</a>", html)
    applied = section(html, "gets-applied")
    assert "Education cashback" in applied and "2.5 % cashback on BRL" in applied
    assert "Airport lounge" in applied
    missed = section(html, "gets-not-applied")
    for name in ("City lounge", "Launch bonus", "Next year", "Paused concierge"):
        assert name in missed and name not in applied
    assert "Outranked by “Airport lounge” in group lounge" in missed
    assert 'data-reason="expired"' in missed and "Expired: from " in missed
    assert 'data-reason="notYetValid"' in missed and "Not valid yet: from " in missed
    assert 'data-reason="inactive"' in missed


def test_an_account_without_a_segment_gets_its_portfolios(as_user, operator, ledger, black):
    services.create_benefit(
        operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    portfolio = PortfolioFactory(ledger=ledger, name="Family")
    services.assign_members(operator, black, portfolio_ids=[portfolio.pk])
    account = AccountFactory(ledger=ledger, portfolio=portfolio)
    html = as_user(operator).get(account_url(account)).text
    assert re.search(r"Through its portfolio Family, in segment <a [^>]*>Black</a>", html)
    assert "Education cashback" in section(html, "gets-applied")
    loner = AccountFactory(ledger=ledger)
    html = as_user(operator).get(account_url(loner)).text
    assert "This account is in no segment" in html
    assert 'id="gets-applied"' not in html


def test_at_answers_the_benefit_as_it_was_then(as_user, operator, black):
    benefit = services.create_benefit(
        operator, black, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    before = timezone.now()
    services.update_benefit(operator, benefit, {"parameters": {**CASHBACK, "percentage": "4"}})
    account = Account.objects.filter(segment=black).first()
    client = as_user(operator)
    assert "4 % cashback on BRL" in section(client.get(account_url(account)).text, "gets-applied")
    then = before.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    past = client.get(account_url(account), {"at": then}, headers=htmx("account-gets"))
    assert "<html" not in past.text  # only the section, for htmx
    assert "2.5 % cashback on BRL" in section(past.text, "gets-applied")
    bad = client.get(account_url(account), {"at": "yesterday"})
    assert bad.status_code == 200
    assert "Enter a date and time, e.g. 2026-12-01T09:30." in bad.text


@pytest.mark.parametrize("extra", [0, 5])
def test_the_page_reads_a_constant_number_of_queries(
    as_user, operator, black, extra, django_assert_num_queries
):
    for number in range(1 + extra):
        services.create_benefit(
            operator, black, name=f"Service {number}", kind="service",
            parameters={"serviceCode": f"s{number}"},
        )  # fmt: skip
    account = Account.objects.filter(segment=black).first()
    client = as_user(operator)
    client.get(account_url(account))
    with django_assert_num_queries(10):  # 9, and the rules of "Why is this account…"
        html = client.get(account_url(account)).text
    assert section(html, "gets-applied").count("<li") == 1 + extra


def test_accounts_link_to_their_page_and_others_are_not_found(
    as_user, operator, black, ledger, other_ledger
):
    account = Account.objects.filter(segment=black).first()
    client = as_user(operator)
    tab = client.get(
        url("ledger_accounts", organization_id=ledger.organization_id, ledger_id=ledger.pk)
    ).text
    assert f'href="{account_url(account)}"' in tab
    foreign = AccountFactory(ledger=other_ledger)
    assert client.get(account_url(foreign)).status_code == 404
