"""The outbox through the public surface: every create, update and delete of the five
entities and of a benefit writes its event with the spec's exact key set (read back
through the feed); a call that rolls back writes none; a membership change is chunked."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from segments import services
from segments.models import Account, Event
from tests.events.conftest import Tenant
from tests.factories import AccountFactory, LedgerFactory, SegmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STATUS = {"code": "ACTIVE"}
KEYS = {
    "organization.created": {
        "id", "parentOrganizationId", "legalName", "doingBusinessAs", "legalDocument",
        "address", "status", "createdAt", "updatedAt",
    },
    "organization.updated": {
        "id", "parentOrganizationId", "legalName", "doingBusinessAs", "address", "status",
        "updatedAt",
    },
    "organization.deleted": {"id", "deletedAt"},
    "ledger.created": {"id", "organizationId", "name", "status", "createdAt", "updatedAt"},
    "ledger.updated": {"id", "organizationId", "name", "status", "updatedAt"},
    "ledger.deleted": {"id", "organizationId", "deletedAt"},
    "segment.created": {
        "id", "organizationId", "ledgerId", "name", "status", "createdAt", "updatedAt",
    },
    "segment.updated": {"id", "organizationId", "ledgerId", "name", "status", "updatedAt"},
    "segment.deleted": {"id", "organizationId", "ledgerId", "deletedAt"},
    "portfolio.created": {
        "id", "organizationId", "ledgerId", "name", "entityId", "status", "segmentId",
        "createdAt", "updatedAt",
    },
    "portfolio.updated": {  # entityId: set at create (left out when empty)
        "id", "organizationId", "ledgerId", "name", "entityId", "status", "segmentId",
        "updatedAt",
    },
    "portfolio.deleted": {"id", "organizationId", "ledgerId", "deletedAt"},
    "account.created": {
        "id", "organizationId", "ledgerId", "name", "assetCode", "type", "portfolioId",
        "segmentId", "parentAccountId", "entityId", "alias", "status", "blocked",
        "createdAt", "updatedAt",
    },
    "account.updated": {
        "id", "organizationId", "ledgerId", "name", "portfolioId", "segmentId", "entityId",
        "status", "blocked", "updatedAt",
    },
    "account.deleted": {"id", "organizationId", "ledgerId", "portfolioId", "deletedAt"},
}  # fmt: skip
BENEFIT_KEYS = {
    "id", "organizationId", "ledgerId", "segmentId", "name", "description", "kind",
    "parameters", "validFrom", "validUntil", "priority", "exclusivityGroup", "status",
    "version", "createdAt", "updatedAt", "deletedAt",
}  # fmt: skip


def feed(client, organization_id, **params) -> list[dict]:
    response = client.get(f"/v1/organizations/{organization_id}/events", {"limit": 100, **params})
    assert response.status_code == 200, response.content
    return response.json()["items"]


def by_key(items: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in items:
        found.setdefault(item["type"].removeprefix("studio.lerian.ledger."), []).append(item)
    return found


def _crud(client, collection: str, body: dict, change: dict) -> str:
    created = client.post(collection, body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert client.patch(f"{collection}/{pk}", change, format="json").status_code == 200
    return pk


def test_every_entity_change_writes_its_event_with_the_exact_key_set(tenant: Tenant):
    api = tenant.admin
    organization = api.post(
        "/v1/organizations",
        {"legalName": "Bank", "legalDocument": "123", "status": {"code": "ACTIVE"}},
        format="json",
    ).json()["id"]
    org = f"/v1/organizations/{organization}"
    assert api.patch(org, {"legalName": "Bank S.A."}, format="json").status_code == 200
    ledger = _crud(api, f"{org}/ledgers", {"name": "Main"}, {"name": "Main 2"})
    base = f"{org}/ledgers/{ledger}"
    segment = _crud(api, f"{base}/segments", {"name": "Gold"}, {"name": "Gold 2"})
    portfolio = _crud(api, f"{base}/portfolios", {"name": "P", "entityId": "e-1"}, {"name": "P2"})
    account = _crud(
        api,
        f"{base}/accounts",
        {"assetCode": "BRL", "type": "deposit", "metadata": {"secret": "x"}},
        {"name": "Renamed"},
    )
    for path in (f"accounts/{account}", f"portfolios/{portfolio}", f"segments/{segment}"):
        assert api.delete(f"{base}/{path}").status_code == 204
    assert api.delete(f"{base}").status_code == 204
    assert api.delete(org).status_code == 204
    events = Event.objects.filter(organization_id=organization).order_by("id")
    found = {}
    for event in events:
        found.setdefault(event.key, []).append(event)
    assert set(found) == set(KEYS)
    for key, expected in KEYS.items():
        (event,) = found[key]
        assert set(event.data) == expected, key
        assert "metadata" not in event.data
        assert event.data.get("status", STATUS) == STATUS
    account_created = found["account.created"][0].data
    assert account_created["portfolioId"] is None and account_created["alias"] is None
    assert found["segment.created"][0].subject == segment
    assert found["segment.created"][0].data["createdAt"].endswith("Z")


def test_the_feed_shows_them_as_cloudevents(tenant: Tenant):
    ledger = LedgerFactory(organization=tenant.organization)
    path = f"/v1/organizations/{tenant.organization.pk}/ledgers/{ledger.pk}/segments"
    created = tenant.admin.post(path, {"name": "Gold"}, format="json").json()
    (item,) = feed(tenant.viewer, tenant.organization.pk)
    assert set(item) == {
        "specversion", "id", "source", "type", "subject", "time", "tenantid",
        "schemaversion", "datacontenttype", "data",
    }  # fmt: skip
    assert item["specversion"] == "1.0" and item["schemaversion"] == "1.0.0"
    assert item["type"] == "studio.lerian.ledger.segment.created"
    assert item["source"] == "ledger" and item["datacontenttype"] == "application/json"
    assert item["subject"] == created["id"] == item["data"]["id"]
    assert item["tenantid"] == str(tenant.organization.pk)
    assert item["time"] == item["data"]["createdAt"] == created["createdAt"]
    assert item["data"]["ledgerId"] == str(ledger.pk)
    assert item["data"]["status"] == {"code": "ACTIVE"}


def test_a_status_description_is_sent_and_a_missing_one_left_out(tenant: Tenant):
    ledger = LedgerFactory(organization=tenant.organization)
    path = f"/v1/organizations/{tenant.organization.pk}/ledgers/{ledger.pk}/segments"
    body = {"name": "Gold", "status": {"code": "INACTIVE", "description": "paused"}}
    tenant.admin.post(path, body, format="json")
    (item,) = feed(tenant.admin, tenant.organization.pk)
    assert item["data"]["status"] == {"code": "INACTIVE", "description": "paused"}


def test_benefit_events_carry_the_benefit_body_with_its_version(tenant: Tenant):
    segment = SegmentFactory(ledger=LedgerFactory(organization=tenant.organization))
    path = (
        f"/v1/organizations/{tenant.organization.pk}/ledgers/{segment.ledger_id}"
        f"/segments/{segment.pk}/benefits"
    )
    body = {"name": "Cashback", "kind": "cashback", "metadata": {"k": "v"}}
    body["parameters"] = {"percentage": "2.5", "assetCode": "BRL"}
    benefit = tenant.admin.post(path, body, format="json").json()["id"]
    change = {"parameters": {"percentage": "3", "assetCode": "BRL"}}
    tenant.admin.patch(f"{path}/{benefit}", change, format="json")
    tenant.admin.delete(f"{path}/{benefit}")
    found = by_key(feed(tenant.admin, tenant.organization.pk, subject=benefit))
    assert list(found) == ["benefit.created", "benefit.updated", "benefit.deleted"]
    versions = [found[key][0]["data"]["version"] for key in found]
    assert versions == [1, 2, 2]
    for (item,) in found.values():
        assert set(item["data"]) == BENEFIT_KEYS
    assert found["benefit.deleted"][0]["data"]["deletedAt"] is not None


def test_a_refused_call_writes_no_event(tenant: Tenant):
    ledger = LedgerFactory(organization=tenant.organization)
    path = f"/v1/organizations/{tenant.organization.pk}/ledgers/{ledger.pk}/segments"
    assert tenant.admin.post(path, {"name": "Gold"}, format="json").status_code == 201
    before = Event.objects.count()
    duplicate = tenant.admin.post(path, {"name": "gold"}, format="json")
    assert duplicate.status_code == 409
    assert Event.objects.count() == before


def test_an_exception_after_the_write_leaves_no_event(tenant: Tenant):
    segment = SegmentFactory(ledger=LedgerFactory(organization=tenant.organization))
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_segment(None, segment, {"name": "Renamed"})
        assert Event.objects.filter(subject=str(segment.pk)).count() == 1
        raise RuntimeError("after the write")
    assert not Event.objects.filter(subject=str(segment.pk)).exists()


def test_a_membership_change_of_2500_accounts_is_three_chunks(tenant: Tenant):
    ledger = LedgerFactory(organization=tenant.organization)
    segment = SegmentFactory(ledger=ledger)
    accounts = [
        Account(organization_id=ledger.organization_id, ledger=ledger, type="d", asset_code="BRL")
        for _ in range(2500)
    ]
    Account.objects.bulk_create(accounts)
    services.assign_accounts_matching(None, segment, Account.objects.filter(ledger=ledger))
    rows = list(Event.objects.filter(key="segment.members.changed", subject=str(segment.pk)))
    assert [row.data["part"] for row in rows] == [1, 2, 3]
    assert {row.data["parts"] for row in rows} == {3}
    added = [pk for row in rows for pk in row.data["added"]["accounts"]]
    assert [len(row.data["added"]["accounts"]) for row in rows] == [1000, 1000, 500]
    assert sorted(added) == sorted(str(account.pk) for account in accounts)
    assert all(row.data["cause"] == "manual" and row.data["segmentId"] == str(segment.pk)
               for row in rows)  # fmt: skip
    assert all(row.data["removed"] == {"accounts": [], "portfolios": []} for row in rows)


def test_assign_and_remove_by_id_and_delete_with_detach_say_who_moved(tenant: Tenant):
    ledger = LedgerFactory(organization=tenant.organization)
    gold, silver = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, organization=ledger.organization)
    services.assign_members(None, gold, account_ids=[account.pk])
    services.assign_members(None, silver, account_ids=[account.pk])  # a move
    services.delete_segment(None, silver, detach=True)
    changes = [
        (row.subject, row.data["cause"], row.data["added"]["accounts"],
         row.data["removed"]["accounts"])
        for row in Event.objects.filter(key="segment.members.changed").order_by("id")
    ]  # fmt: skip
    me = [str(account.pk)]
    assert changes == [
        (str(gold.pk), "manual", me, []),
        (str(gold.pk), "manual", [], me),
        (str(silver.pk), "manual", me, []),
        (str(silver.pk), "delete", [], me),
    ]


def test_ids_of_one_subject_increase_in_commit_order(tenant: Tenant):
    segment = SegmentFactory(ledger=LedgerFactory(organization=tenant.organization))
    for number in range(20):
        services.update_segment(None, segment, {"name": f"Name {number}"})
    ids = list(Event.objects.filter(subject=str(segment.pk)).values_list("id", flat=True))
    assert ids == sorted(ids) and len(ids) == 20
    assert all(pk.version == 7 for pk in ids)


def test_an_id_stays_above_the_subjects_latest_when_another_clock_ran_ahead(tenant: Tenant):
    segment = SegmentFactory(ledger=LedgerFactory(organization=tenant.organization))
    services.update_segment(None, segment, {"name": "First"})
    first = Event.objects.get(subject=str(segment.pk))
    an_hour = 3_600_000 << 80  # milliseconds, where a UUIDv7 keeps them
    ahead = Event.objects.create(
        id=uuid.UUID(int=first.pk.int + an_hour), organization_id=first.organization_id,
        key=first.key, subject=first.subject, time=first.time, data=first.data,
        next_attempt_at=first.next_attempt_at,
    )  # fmt: skip
    services.update_segment(None, segment, {"name": "Second"})
    latest = Event.objects.filter(subject=str(segment.pk)).order_by("-id").first()
    assert latest.pk > ahead.pk and latest.data["name"] == "Second"
    assert latest.pk.version == 7
