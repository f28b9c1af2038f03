"""Membership races over real HTTP (issue 10, item 4 and "Races"): bulk assignments,
single PATCHes of ``segmentId``, removals and deletes with detach of the same segment at
the same time, on PostgreSQL. Every answer is a 2xx or a 4xx problem (a deadlock is never
an outage), no row points at a deleted segment, and every counter equals ``COUNT(*)``."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from segments.models import Account, Portfolio, Role, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)
from tests.testing.live_http import call
from tests.testing.threads import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setting(live_server):
    ledger = LedgerFactory()
    user = UserFactory()
    member(user, ledger.organization, Role.ADMIN)
    base = f"{live_server.url}/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
    return {"ledger": ledger, "token": token_for(user), "base": base}


def tally(results: list) -> Counter:
    """The figures of a batch of (status, body) answers: requests, 2xx, 4xx, 5xx, and each
    error status with its code. A 4xx must be a problem document (status and code)."""
    figures: Counter = Counter()
    for result in results:
        assert not isinstance(result, Exception), result
        status, body = result
        figures["requests"] += 1
        figures[f"{status // 100}xx"] += 1
        if status >= 400:
            assert body.get("status") == status and body.get("code"), (status, body)
            figures[f"{status} {body['code']}"] += 1
    return figures


def assert_consistent(ledger) -> None:
    """No account or portfolio, live or deleted, points at a deleted segment, and every
    segment's counters equal COUNT(*) of its live members."""
    assert not Account.all_objects.filter(segment__deleted_at__isnull=False).exists()
    assert not Portfolio.all_objects.filter(segment__deleted_at__isnull=False).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.account_count, s.portfolio_count, "
            "(SELECT count(*) FROM segments_account a WHERE a.segment_id = s.id "
            " AND a.deleted_at IS NULL), "
            "(SELECT count(*) FROM segments_portfolio p WHERE p.segment_id = s.id "
            " AND p.deleted_at IS NULL) "
            "FROM segments_segment s WHERE s.ledger_id = %s",
            [ledger.pk],
        )
        for pk, accounts, portfolios, counted_accounts, counted_portfolios in cursor.fetchall():
            assert (accounts, portfolios) == (counted_accounts, counted_portfolios), pk


def report(capsys, line: str) -> None:
    """Print the figures even when pytest captures output, so `make test` and the CI log
    show them."""
    with capsys.disabled():
        print(line)


def test_bulk_assignment_racing_patches_into_the_same_segment_all_succeed(setting, capsys):
    """The deadlock of issue 10 item 4: the bulk path locked the segment then the accounts,
    a PATCH of segmentId the account then the segment; PostgreSQL killed one side and the
    client read 503 9008 "database unavailable"."""
    ledger, token, base = setting["ledger"], setting["token"], setting["base"]
    figures: Counter = Counter()
    for round_number in range(4):
        segment = SegmentFactory(ledger=ledger, name=f"Deadlock {round_number}")
        ids = [str(AccountFactory(ledger=ledger).pk) for _ in range(150)]
        patched = ids[-7:]

        def work(index: int, segment=segment, ids=ids, patched=patched):
            if index == 0:
                url = f"{base}/segments/{segment.pk}/members"
                return call("POST", url, token, {"accountIds": ids})
            url = f"{base}/accounts/{patched[index - 1]}"
            return call("PATCH", url, token, {"segmentId": str(segment.pk)})

        results = at_once(8, work)
        figures += tally(results)
        statuses = [result[0] for result in results if isinstance(result, tuple)]
        if statuses == [200] * 8:
            segment.refresh_from_db()
            assert segment.account_count == 150
    report(capsys, f"\nbulk vs PATCH race: {dict(figures)}")
    assert figures["2xx"] == figures["requests"] == 32, dict(figures)
    assert_consistent(ledger)


def test_assign_patch_remove_and_delete_of_one_segment_at_once(setting, capsys):
    ledger, token, base = setting["ledger"], setting["token"], setting["base"]
    figures: Counter = Counter()
    threads, steps, rounds = 16, 3, 3
    for round_number in range(rounds):
        doomed = SegmentFactory(ledger=ledger, name=f"Doomed {round_number}")
        other = SegmentFactory(ledger=ledger, name=f"Other {round_number}")
        accounts = [
            str(AccountFactory(ledger=ledger, segment=doomed if i % 2 else None).pk)
            for i in range(48)
        ]
        portfolios = [str(PortfolioFactory(ledger=ledger, segment=doomed).pk) for _ in range(8)]

        def request(
            index: int,
            step: int,
            doomed=doomed,
            other=other,
            accounts=accounts,
            portfolios=portfolios,
        ):
            kind = (index + step) % 6
            target = doomed if (index + step) % 3 else other
            mine = [accounts[(index * 3 + k) % 48] for k in range(6)]
            if step == 1 and index in (0, 1):
                return call("DELETE", f"{base}/segments/{doomed.pk}?detach=true", token)
            if kind == 0:
                body = {"accountIds": accounts[index % 4 :: 4], "portfolioIds": portfolios[:3]}
                return call("POST", f"{base}/segments/{target.pk}/members", token, body)
            if kind == 1:
                url = f"{base}/accounts/{mine[step % 6]}"
                return call("PATCH", url, token, {"segmentId": str(target.pk)})
            if kind == 2:
                url = f"{base}/portfolios/{portfolios[index % 8]}"
                return call("PATCH", url, token, {"segmentId": str(target.pk)})
            if kind == 3:
                url = f"{base}/segments/{doomed.pk}/members/remove"
                return call("POST", url, token, {"accountIds": mine[:2]})
            if kind == 4:
                url = f"{base}/accounts/{mine[(step + 3) % 6]}"
                return call("PATCH", url, token, {"segmentId": None})
            body = {"accountIds": mine}
            return call("POST", f"{base}/segments/{doomed.pk}/members", token, body)

        def work(index: int, request=request):
            return [request(index, step) for step in range(steps)]

        results = at_once(threads, work)
        for result in results:
            assert not isinstance(result, Exception), result
        figures += tally([answer for batch in results for answer in batch])
        figures["segments deleted"] += Segment.all_objects.filter(
            pk=doomed.pk, deleted_at__isnull=False
        ).count()
    report(
        capsys,
        f"\nmembership race: {figures['requests']} requests, {figures['2xx']} 2xx, "
        f"{figures['4xx']} 4xx, {figures['5xx']} 5xx; {dict(figures)}",
    )
    assert figures["requests"] == threads * steps * rounds >= 100
    assert figures["5xx"] == 0
    assert figures["segments deleted"] == rounds, "each round's delete with detach succeeds"
    assert_consistent(ledger)
