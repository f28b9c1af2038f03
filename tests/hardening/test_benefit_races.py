"""The ambiguity rule holds under concurrency (issue #13): ten clients creating benefits
that would be ambiguous with each other (same segment, exclusivity group and priority,
overlapping windows), released at the same instant over real HTTP, leave exactly one;
the others are refused with 409 ``9012``, never a 5xx."""

from __future__ import annotations

from collections import Counter

import pytest

from segments.models import Benefit, Role
from tests.factories import LedgerFactory, SegmentFactory, UserFactory, member, token_for
from tests.testing.live_http import call
from tests.testing.threads import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 10


def test_ten_concurrent_ambiguous_creates_leave_exactly_one(live_server):
    ledger = LedgerFactory()
    segment = SegmentFactory(ledger=ledger)
    user = UserFactory()
    member(user, ledger.organization, Role.OPERATOR)
    token = token_for(user)
    url = (
        f"{live_server.url}/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
        f"/segments/{segment.pk}/benefits"
    )

    def work(index: int):
        body = {
            "name": f"Lounge {index}",
            "kind": "service",
            "parameters": {"serviceCode": "lounge"},
            "exclusivityGroup": "travel",
            "priority": 10,
        }
        return call("POST", url, token, body)

    results = at_once(RACERS, work)
    assert not [result for result in results if isinstance(result, Exception)], results
    outcomes = Counter(
        (status, body.get("code")) if status >= 400 else (status, None) for status, body in results
    )
    assert outcomes == {(201, None): 1, (409, "9012"): RACERS - 1}, outcomes
    assert Benefit.objects.filter(segment=segment).count() == 1
