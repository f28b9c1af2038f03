"""Races through the real HTTP stack: a live server (one thread and one PostgreSQL
connection per request) and clients released at the same instant (``tests.testing``)."""

from __future__ import annotations

import urllib.request

import pytest

from segments.models import Account, Role, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
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


def test_twenty_concurrent_creates_with_one_name_give_exactly_one_201(setting):
    results = at_once(
        20,
        lambda i: call("POST", f"{setting['base']}/segments", setting["token"], {"name": "Black"}),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 19, statuses
    assert all(body["code"] == "0015" for status, body in results if status == 409)
    assert Segment.objects.filter(ledger=setting["ledger"]).count() == 1


def test_concurrent_bulk_assign_and_delete_never_leave_a_member_of_a_deleted_segment(setting):
    ledger = setting["ledger"]
    for round_number in range(4):
        segment = SegmentFactory(ledger=ledger, name=f"Race {round_number}")
        ids = [str(AccountFactory(ledger=ledger).pk) for _ in range(200)]

        def work(index: int, segment=segment, ids=ids):
            url = f"{setting['base']}/segments/{segment.pk}"
            if index == 0:
                return call("DELETE", url, setting["token"])
            return call("POST", f"{url}/members", setting["token"], {"accountIds": ids})

        (delete_status, delete_body), (assign_status, _) = at_once(2, work)
        deleted = Segment.all_objects.get(pk=segment.pk).deleted_at is not None
        members = Account.all_objects.filter(segment=segment).count()
        if deleted:
            assert delete_status == 204
            assert members == 0
            assert assign_status == 404
        else:
            assert (delete_status, delete_body.get("code")) == (409, "9001")
            assert assign_status == 200 and members == 200


def test_ten_concurrent_patches_with_one_if_match_give_one_200_and_nine_412(setting):
    segment = SegmentFactory(ledger=setting["ledger"], name="Start")
    url = f"{setting['base']}/segments/{segment.pk}"
    status, _ = call("GET", url, setting["token"])
    assert status == 200
    etag = urllib.request.urlopen(
        urllib.request.Request(url, headers={"Authorization": f"Bearer {setting['token']}"})
    ).headers["ETag"]
    results = at_once(
        10,
        lambda i: call(
            "PATCH", url, setting["token"], {"name": f"Name {i}"}, headers={"If-Match": etag}
        ),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * 9, statuses
    winner = next(body for status, body in results if status == 200)
    segment.refresh_from_db()
    assert segment.name == winner["name"]


def test_same_idempotency_key_at_once_creates_one_segment(setting):
    results = at_once(
        8,
        lambda i: call(
            "POST",
            f"{setting['base']}/segments",
            setting["token"],
            {"name": "Once"},
            headers={"Idempotency-Key": "same-key"},
        ),
    )
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert Segment.objects.filter(ledger=setting["ledger"]).count() == 1
