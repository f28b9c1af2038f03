"""Fixtures of the admin tests: a logged-in superuser (back-office staff) and a small
ledger with segments, accounts and portfolios."""

import pytest

from segments.models import Status
from tests.factories import (
    AccountFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
)


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def segment(ledger):
    return SegmentFactory(ledger=ledger, name="Black", status_code=Status.ACTIVE)


@pytest.fixture
def org_segment(organization):
    return SegmentFactory(ledger=None, organization=organization, name="Private")


@pytest.fixture
def account(ledger):
    return AccountFactory(ledger=ledger, alias="@alice")


@pytest.fixture
def portfolio(ledger):
    return PortfolioFactory(ledger=ledger, name="Family")
