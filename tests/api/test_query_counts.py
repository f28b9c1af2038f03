"""Every list answers in a constant number of queries: a page of 100 items costs what a
page of 10 costs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from segments.models import Membership, Role, SegmentHistory
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db

ITEMS = 101
# The token, the parent in the path, the page, its total; one to spare.
MAX_QUERIES = 5


def _organizations(organization, ledger, user) -> str:
    extra = OrganizationFactory.create_batch(ITEMS)
    Membership.objects.bulk_create(
        Membership(user=user, organization=org, role=Role.VIEWER) for org in extra
    )
    return "/v1/organizations"


def _ledgers(organization, ledger, user) -> str:
    LedgerFactory.create_batch(ITEMS, organization=organization)
    return f"/v1/organizations/{organization.pk}/ledgers"


def _segments(organization, ledger, user) -> str:
    for segment in SegmentFactory.create_batch(ITEMS, ledger=ledger)[::10]:
        AccountFactory(ledger=ledger, segment=segment)
        PortfolioFactory(ledger=ledger, segment=segment)
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/segments"


def _organization_segments(organization, ledger, user) -> str:
    SegmentFactory.create_batch(ITEMS, ledger=None, organization=organization)
    return f"/v1/organizations/{organization.pk}/segments"


def _portfolios(organization, ledger, user) -> str:
    segment = SegmentFactory(ledger=ledger)
    PortfolioFactory.create_batch(ITEMS, ledger=ledger, segment=segment)
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/portfolios"


def _accounts(organization, ledger, user) -> str:
    portfolio = PortfolioFactory(ledger=ledger, segment=SegmentFactory(ledger=ledger))
    AccountFactory.create_batch(ITEMS, ledger=ledger, portfolio=portfolio)
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/accounts"


def _accounts_second_page(organization, ledger, user) -> str:
    return _accounts(organization, ledger, user) + "?page=2"


def _segment_account_members(organization, ledger, user) -> str:
    segment = SegmentFactory(ledger=ledger)
    AccountFactory.create_batch(ITEMS, ledger=ledger, segment=segment)
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/segments/{segment.pk}/members"


def _organization_segment_portfolio_members(organization, ledger, user) -> str:
    segment = SegmentFactory(ledger=None, organization=organization)
    PortfolioFactory.create_batch(ITEMS, ledger=ledger, segment=segment)
    return f"/v1/organizations/{organization.pk}/segments/{segment.pk}/members?kind=portfolio"


def _segment_history(organization, ledger, user) -> str:
    segment = SegmentFactory(ledger=ledger)
    SegmentHistory.objects.bulk_create(
        SegmentHistory(
            segment=segment,
            organization=organization,
            actor=user,
            actor_name=user.username,
            action="updated",
            before={"name": "a"},
            after={"name": "b"},
        )
        for _ in range(ITEMS)
    )
    return f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}/segments/{segment.pk}/history"


LISTS: dict[str, Callable[..., str]] = {
    "organizations": _organizations,
    "ledgers": _ledgers,
    "ledger segments": _segments,
    "organization segments": _organization_segments,
    "portfolios": _portfolios,
    "accounts": _accounts,
    "accounts by page number": _accounts_second_page,
    "segment members (accounts)": _segment_account_members,
    "organization segment members (portfolios)": _organization_segment_portfolio_members,
    "segment history": _segment_history,
}


@pytest.mark.parametrize("seed", LISTS.values(), ids=LISTS.keys())
def test_list_query_count_does_not_grow_with_the_page_size(
    seed, client_for, users, organization, ledger, django_assert_max_num_queries
):
    viewer = users["viewer"]
    url = seed(organization, ledger, viewer)
    client = client_for(viewer)
    separator = "&" if "?" in url else "?"
    assert client.get(url).status_code == 200  # the token's first use is recorded once
    with django_assert_max_num_queries(MAX_QUERIES) as small:
        response = client.get(f"{url}{separator}limit=10")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 10
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{url}{separator}limit=100")
    assert len(response.json()["items"]) >= 1
    assert int(response["X-Total-Count"]) >= ITEMS
