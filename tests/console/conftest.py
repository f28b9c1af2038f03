import pytest
from django.urls import reverse

from segments import services
from tests.factories import AccountFactory, PortfolioFactory


def url(name: str, **kwargs) -> str:
    return reverse(f"console:{name}", kwargs=kwargs)


def htmx(target: str | None = None) -> dict[str, str]:
    """Headers of an htmx request (aimed at ``target``)."""
    headers = {"HX-Request": "true"}
    if target:
        headers["HX-Target"] = target
    return headers


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def ledger_kwargs(ledger):
    return {"organization_id": ledger.organization_id, "ledger_id": ledger.pk}


@pytest.fixture
def black(ledger, operator):
    """A ledger segment with metadata, two member accounts and one member portfolio."""
    segment = services.create_segment(
        operator,
        ledger,
        name="Black",
        description="Premium cards",
        metadata={"tier": "black", "lounge": True},
    )
    accounts = AccountFactory.create_batch(2, ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger)
    services.assign_members(
        operator, segment, account_ids=[a.pk for a in accounts], portfolio_ids=[portfolio.pk]
    )
    return segment


@pytest.fixture
def segment_kwargs(black):
    return {
        "organization_id": black.organization_id,
        "ledger_id": black.ledger_id,
        "segment_id": black.pk,
    }
