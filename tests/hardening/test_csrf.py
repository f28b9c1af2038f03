"""Every console form is protected by CSRF: a POST without the token is refused (403)
and changes nothing, whoever sends it."""

from __future__ import annotations

import pytest
from django.test import Client

from segments.models import HistoryAction, SegmentHistory
from tests.hardening.test_tenancy_matrix import ROUTES, _fill, world  # noqa: F401

CONSOLE_POSTS = [
    pytest.param(route, id=f"POST /{route.route}")
    for route in ROUTES
    if not route.is_api and route.namespace == "console"
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", CONSOLE_POSTS)
def test_console_post_without_csrf_token_is_refused(route, world):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["admin"])
    before = SegmentHistory.objects.count()
    response = client.post(_fill(route, world), {"name": "Sneaky"}, HTTP_HX_REQUEST="true")
    assert response.status_code in (403, 405), response.status_code
    assert SegmentHistory.objects.count() == before


@pytest.mark.django_db
def test_the_same_post_with_the_token_goes_through(world):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["admin"])
    ledger = world["ledger"]
    page = client.get(f"/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    token = token or client.cookies["csrftoken"].value
    response = client.post(
        f"/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/new/",
        {"name": "Honest", "status": "ACTIVE", "csrfmiddlewaretoken": token},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code in (200, 204, 302)
    assert SegmentHistory.objects.filter(action=HistoryAction.CREATED).exists()
