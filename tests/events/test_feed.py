"""``GET /v1/organizations/{org}/events``: oldest first, paged with ``after``, narrowed by
``type`` and ``subject``, tenancy as every route, bad input as problems."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from django.db import connections, transaction
from uuid6 import uuid7

from segments import services
from tests.events.conftest import Tenant
from tests.factories import LedgerFactory, OrganizationFactory, SegmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def url(organization) -> str:
    return f"/v1/organizations/{organization.pk}/events"


@pytest.fixture
def changes(tenant: Tenant):
    """Seven events: two segments created, then five renames alternating between them."""
    ledger = LedgerFactory(organization=tenant.organization)
    gold = services.create_segment(None, ledger, name="Gold")
    silver = services.create_segment(None, ledger, name="Silver")
    for number in range(5):
        services.update_segment(None, (gold, silver)[number % 2], {"name": f"N{number}"})
    return gold, silver


def test_pages_follow_after_oldest_first_and_next_is_the_cursor(tenant: Tenant, changes):
    seen, after = [], None
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        body = tenant.viewer.get(url(tenant.organization), params).json()
        seen += body["items"]
        if not body["items"]:
            assert body["next"] == after  # still a cursor to poll with
            break
        assert body["next"] == body["items"][-1]["id"]
        after = body["next"]
    assert len(seen) == 7
    assert [item["id"] for item in seen] == sorted(item["id"] for item in seen)
    assert seen[0]["type"].endswith("segment.created")


def test_type_and_subject_narrow_the_feed(tenant: Tenant, changes):
    gold, _ = changes
    by_key = tenant.viewer.get(url(tenant.organization), {"type": "segment.created"}).json()
    assert [item["data"]["name"] for item in by_key["items"]] == ["Gold", "Silver"]
    full_type = "studio.lerian.ledger.segment.updated"
    by_type = tenant.viewer.get(url(tenant.organization), {"type": full_type}).json()
    assert len(by_type["items"]) == 5
    mine = tenant.viewer.get(url(tenant.organization), {"subject": str(gold.pk)}).json()
    assert {item["subject"] for item in mine["items"]} == {str(gold.pk)}
    assert len(mine["items"]) == 4


def test_another_tenant_sees_nothing(tenant: Tenant, changes):
    other = OrganizationFactory()
    SegmentFactory(ledger=LedgerFactory(organization=other))
    response = tenant.outsider.get(url(tenant.organization))
    assert response.status_code == 404 and response.json()["code"] == "0007"
    assert tenant.admin.get(url(other)).status_code == 404
    assert tenant.admin.get(url(tenant.organization)).status_code == 200


def test_bad_parameters_are_problems(tenant: Tenant):
    bad_after = tenant.viewer.get(url(tenant.organization), {"after": "nope"})
    assert bad_after.status_code == 400 and bad_after.json()["code"] == "0082"
    too_many = tenant.viewer.get(url(tenant.organization), {"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["code"] == "0080"
    zero = tenant.viewer.get(url(tenant.organization), {"limit": 0})
    assert zero.status_code == 400
    bad_path = tenant.viewer.get("/v1/organizations/nope/events")
    assert bad_path.status_code == 400 and bad_path.json()["code"] == "0065"
    unknown = tenant.viewer.get(f"/v1/organizations/{uuid.uuid4()}/events")
    assert unknown.status_code == 404


def test_anonymous_is_refused(tenant: Tenant, client):
    assert client.get(url(tenant.organization)).status_code == 401


def _ids(tenant: Tenant, after: str | None = None) -> list[str]:
    params = {"limit": 100, **({"after": after} if after else {})}
    return [
        item["id"] for item in tenant.viewer.get(url(tenant.organization), params).json()["items"]
    ]


def test_an_event_of_a_transaction_in_flight_holds_back_later_ones_and_none_is_skipped(
    tenant: Tenant, changes
):
    """A change whose transaction commits late has the lower id: a poller that followed
    ``next`` past the later change would never see it. The feed waits for it instead."""
    gold, silver = changes
    cursor = _ids(tenant)[-1]
    written, release = threading.Event(), threading.Event()

    def slow_change() -> None:
        try:
            with transaction.atomic():
                services.update_segment(None, gold, {"name": "Late"})
                written.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    slow = threading.Thread(target=slow_change)
    slow.start()
    assert written.wait(timeout=30)
    services.update_segment(None, silver, {"name": "Early"})  # committed first, higher id
    assert _ids(tenant, cursor) == []  # held back: an earlier id may still come
    release.set()
    slow.join(timeout=30)
    after = _ids(tenant, cursor)
    assert len(after) == 2 and after == sorted(after)
    subjects = [
        item["subject"]
        for item in tenant.viewer.get(url(tenant.organization), {"after": cursor}).json()["items"]
    ]
    assert subjects == [str(gold.pk), str(silver.pk)]  # the late one first, by its id


def test_a_transaction_in_flight_in_another_database_holds_nothing_back(tenant: Tenant):
    """Only this database's transactions can still commit events here: a long one of
    another database on the same server (another service, a migration, a test worker)
    must not stop the feed."""
    settings_dict = connections["default"].settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
    )
    try:
        other.execute("SELECT pg_current_xact_id()")  # in flight, with an id older than ours
        ledger = LedgerFactory(organization=tenant.organization)
        services.create_segment(None, ledger, name="Gold")
        assert len(_ids(tenant)) == 1  # the segment created, not held back
    finally:
        other.rollback()
        other.close()


def test_many_ids_made_just_before_do_not_hold_the_next_events_back(tenant: Tenant):
    """Rows made by the thousand in one process (a bulk load, ``bulk_create``) take their
    ids from ``uuid6.uuid7``, whose clock runs one millisecond ahead per id made within a
    millisecond: events made after them must still carry the real time, or the feed would
    hold them back as "ahead of the clock" for as long as the clock ran ahead."""
    for _ in range(20_000):  # what a bulk_create of 20,000 accounts does to that clock
        uuid7()
    ledger = LedgerFactory(organization=tenant.organization)
    services.create_segment(None, ledger, name="Gold")
    assert len(_ids(tenant)) == 1


def test_events_younger_than_the_settling_delay_wait_for_a_later_poll(tenant: Tenant, settings):
    ledger = LedgerFactory(organization=tenant.organization)
    settings.EVENTS_FEED_SETTLE_MS = 60_000
    services.create_segment(None, ledger, name="Fresh")
    assert _ids(tenant) == []
    settings.EVENTS_FEED_SETTLE_MS = 0
    assert len(_ids(tenant)) == 1


def test_a_deleted_organizations_feed_is_not_found(tenant: Tenant):
    services.update_organization(None, tenant.organization, {"legal_name": "Closing Bank"})
    assert len(_ids(tenant)) == 1
    services.delete_organization(None, tenant.organization)
    gone = tenant.viewer.get(url(tenant.organization))
    assert gone.status_code == 404 and gone.json()["code"] == "0007"
