"""The reads every request makes — its API token, the objects its path names, the caller's
role — run SQL compiled once per process (``segments.prepared``). Requests of different
callers for different objects, interleaved, each get their own answer: no value of an
earlier request stays bound, and tenancy holds for each."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments import selectors
from segments.models import ApiToken, Membership, Role
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(client_for) -> list[dict]:
    tenants = []
    for name in ("alpha", "beta"):
        ledger = LedgerFactory()
        user = UserFactory(username=name)
        member(user, ledger.organization, Role.OPERATOR)
        viewer = UserFactory(username=f"{name}-viewer")
        member(viewer, ledger.organization, Role.VIEWER)
        organization_url = f"/v1/organizations/{ledger.organization_id}"
        tenants.append(
            {
                "client": client_for(user),
                "viewer": client_for(viewer),
                "ledger_url": f"{organization_url}/ledgers/{ledger.pk}",
                "organization_url": organization_url,
                "segment": SegmentFactory(ledger=ledger, name=f"{name} segment"),
                "organization_segment": SegmentFactory(
                    ledger=None, organization=ledger.organization, name=f"{name} group"
                ),
                "account": AccountFactory(ledger=ledger, alias=f"@{name}"),
            }
        )
    return tenants


def _paths(tenant: dict) -> dict[str, tuple[str, str]]:
    """Each read of one object: its URL and the id its body must carry."""
    ledger_url, account = tenant["ledger_url"], tenant["account"]
    return {
        "ledger": (ledger_url, ledger_url.rsplit("/", 1)[1]),
        "segment": (f"{ledger_url}/segments/{tenant['segment'].pk}", str(tenant["segment"].pk)),
        "organization segment": (
            f"{tenant['organization_url']}/segments/{tenant['organization_segment'].pk}",
            str(tenant["organization_segment"].pk),
        ),
        "account": (f"{ledger_url}/accounts/{account.pk}", str(account.pk)),
        "account by alias": (f"{ledger_url}/accounts/alias/{account.alias}", str(account.pk)),
    }


def test_interleaved_callers_each_read_their_own_objects_and_never_the_others(two_tenants):
    alpha, beta = two_tenants
    for _ in range(2):  # the second round runs on SQL compiled in the first
        for reader, owner in ((alpha, alpha), (beta, alpha), (beta, beta), (alpha, beta)):
            for what, (url, expected_id) in _paths(owner).items():
                response = reader["client"].get(url)
                if reader is owner:
                    assert response.status_code == 200, (what, response.content)
                    assert response.json()["id"] == expected_id, what
                else:
                    assert response.status_code == 404, (what, response.content)
                    assert response.json()["code"] == "0007", what


def test_interleaved_roles_are_each_checked_for_the_write(two_tenants):
    alpha, beta = two_tenants
    for tenant in (alpha, beta, alpha):
        url = f"{tenant['ledger_url']}/segments/{tenant['segment'].pk}"
        refused = tenant["viewer"].patch(url, {"description": "by a viewer"}, format="json")
        assert refused.status_code == 403, refused.content
        assert refused.json()["code"] == "9004"
        changed = tenant["client"].patch(url, {"description": "by the operator"}, format="json")
        assert changed.status_code == 200, changed.content
        assert changed.json()["description"] == "by the operator"


def test_a_revoked_token_is_refused_on_the_next_request(two_tenants):
    alpha = two_tenants[0]
    url = alpha["ledger_url"]
    assert alpha["client"].get(url).status_code == 200
    ApiToken.objects.filter(user__username="alpha").delete()
    refused = alpha["client"].get(url)
    assert refused.status_code == 401, refused.content


def test_a_list_is_checked_by_the_read_of_its_path_once_per_request(two_tenants):
    alpha, beta = two_tenants
    with CaptureQueriesContext(connection) as captured:
        response = alpha["client"].get(f"{alpha['ledger_url']}/segments?limit=1")
    assert response.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    checking = [sql for sql in statements if "segments_membership" in sql]
    assert len(checking) == 1 and checking[0].startswith('SELECT "segments_ledger"'), statements
    # Another tenant's ledger is still refused: the check is the path's read itself.
    refused = beta["client"].get(f"{alpha['ledger_url']}/segments")
    assert refused.status_code == 404 and refused.json()["code"] == "0007"


def test_outside_a_request_every_list_checks_tenancy_itself(two_tenants):
    alpha = two_tenants[0]
    user = User.objects.get(username="alpha")
    segment = alpha["segment"]
    ledger = selectors.get_ledger(user, segment.organization_id, segment.ledger_id)
    assert list(selectors.segments_of(user, ledger.organization, ledger)) == [segment]
    Membership.objects.filter(user=user).delete()
    assert list(selectors.segments_of(user, ledger.organization, ledger)) == []
