"""Shared fixtures of the API tests: clients that authenticate with a Bearer token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, token_for


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
