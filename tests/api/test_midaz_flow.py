"""The flow of issue #3, as a Midaz client would drive it, end to end through HTTP."""

from __future__ import annotations

import pytest

from segments.models import Account, Ledger
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_midaz_style_flow_from_organization_to_detach_delete(client_for, staff):
    api = client_for(staff)

    def created(url: str, body: dict) -> dict:
        response = api.post(url, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    organization = created(
        "/v1/organizations", {"legalName": "Lerian Bank", "legalDocument": "12345678000199"}
    )
    org_url = f"/v1/organizations/{organization['id']}"
    ledger = created(f"{org_url}/ledgers", {"name": "Cards"})
    ledger_url = f"{org_url}/ledgers/{ledger['id']}"
    portfolio = created(f"{ledger_url}/portfolios", {"name": "Retail"})
    black = created(f"{ledger_url}/segments", {"name": "Black", "description": "Premium cards"})
    black_url = f"{ledger_url}/segments/{black['id']}"
    account = created(
        f"{ledger_url}/accounts",
        {
            "type": "creditCard",
            "assetCode": "BRL",
            "alias": "@maria",
            "portfolioId": portfolio["id"],
            "segmentId": black["id"],
        },
    )
    assert account["segmentId"] == black["id"]

    listed = api.get(f"{ledger_url}/accounts", {"segment_id": black["id"]})
    assert [item["id"] for item in listed.json()["items"]] == [account["id"]]
    assert listed["X-Total-Count"] == "1"

    tagged = api.patch(black_url, {"metadata": {"tier": "black", "lounge": True}}, format="json")
    assert tagged.json()["metadata"] == {"tier": "black", "lounge": True}
    untagged = api.patch(black_url, {"metadata": {"lounge": None}}, format="json")
    assert untagged.json()["metadata"] == {"tier": "black"}

    private = created(f"{org_url}/segments", {"name": "Private"})
    moved = api.patch(
        f"{ledger_url}/accounts/{account['id']}", {"segmentId": private["id"]}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["segmentId"] == private["id"]
    private_members = api.get(f"{org_url}/segments/{private['id']}/members").json()
    assert [item["id"] for item in private_members["items"]] == [account["id"]]

    bulk = AccountFactory.create_batch(500, ledger=Ledger.objects.get(pk=ledger["id"]))
    assigned = api.post(
        f"{black_url}/members", {"accountIds": [str(a.pk) for a in bulk]}, format="json"
    )
    assert assigned.status_code == 200, assigned.content
    assert assigned.json() == {"assigned": 500, "accounts": 500, "portfolios": 0}
    members = api.get(f"{black_url}/members", {"kind": "account", "limit": 1})
    assert members["X-Total-Count"] == "500"
    assert api.get(black_url).json()["accountCount"] == 500

    history = api.get(f"{black_url}/history", {"limit": 100}).json()["items"]
    assert [entry["action"] for entry in reversed(history)] == [
        "created",
        "members_assigned",  # the account was created in it
        "updated",  # metadata added
        "updated",  # metadata key removed
        "members_removed",  # the account moved to Private
        "members_assigned",  # the bulk of 500
    ]
    assert history[0]["after"]["accounts"] == 500
    assert history[2]["before"] == {"metadata": {"tier": "black", "lounge": True}}
    assert history[2]["after"] == {"metadata": {"tier": "black"}}
    assert {entry["actor"] for entry in history} == {"staff"}
    private_history = api.get(f"{org_url}/segments/{private['id']}/history").json()["items"]
    assert [entry["action"] for entry in reversed(private_history)] == [
        "created",
        "members_assigned",
    ]

    refused = api.delete(black_url)
    assert refused.status_code == 409
    assert refused.json()["code"] == "9001"
    assert "500 account(s)" in refused.json()["detail"]

    assert api.delete(black_url, QUERY_STRING="detach=true").status_code == 204
    assert api.get(black_url).status_code == 404
    assert not Account.objects.filter(segment_id=black["id"]).exists()

    def count(url: str) -> int:
        response = api.head(f"{url}/metrics/count")
        assert response.status_code == 204
        return int(response["X-Total-Count"])

    assert count(f"{ledger_url}/segments") == 0
    assert count(f"{org_url}/segments") == 1
    assert count(f"{ledger_url}/accounts") == 501
    assert count(f"{ledger_url}/portfolios") == 1
    assert count(f"{org_url}/ledgers") == 1
    assert count("/v1/organizations") == 1
