"""Shared fixtures of the API tests: clients that authenticate with a Bearer token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from segments.models import Role
from tests.factories import LedgerFactory, UserFactory, member, token_for


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """``client_for(user)``: an API client sending ``Authorization: Bearer <token>``;
    ``client_for(None)`` sends no credentials."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def tenant(client_for) -> dict:
    """One organization with a ledger, an operator's and an admin's API clients and the
    two base URLs: what the benefit and rule tests build their segments on."""
    ledger = LedgerFactory()
    operator = UserFactory(username="operator")
    member(operator, ledger.organization, Role.OPERATOR)
    admin = UserFactory(username="admin")
    member(admin, ledger.organization, Role.ADMIN)
    organization_url = f"/v1/organizations/{ledger.organization_id}"
    return {
        "ledger": ledger,
        "api": client_for(operator),
        "admin": client_for(admin),
        "organization_url": organization_url,
        "ledger_url": f"{organization_url}/ledgers/{ledger.pk}",
    }
