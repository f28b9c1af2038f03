"""The same CRUD and permission checks for every entity of the API, written once in
``tests.testing.api_crud.EntityAPITestCase``; each entity's class here says where its
collection is, how to make one, and what to send, and adds its own checks."""

from __future__ import annotations

from typing import ClassVar

import pytest

from segments.models import (
    Account,
    Entity,
    Ledger,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
)
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    member,
)
from tests.testing.api_crud import EntityAPITestCase

pytestmark = pytest.mark.django_db


class TestOrganizations(EntityAPITestCase):
    model = Organization
    collection = "organizations"
    entity_type = "Organization"
    create_data: ClassVar = {
        "legalName": "Lerian Bank",
        "legalDocument": "12345678000199",
        "doingBusinessAs": "Lerian",
        "address": {
            "line1": "Av. Paulista 1000",
            "line2": None,
            "zipCode": "01310-100",
            "city": "São Paulo",
            "state": "SP",
            "country": "BR",
        },
        "metadata": {"segment": "bank"},
    }
    update_data: ClassVar = {"legalName": "Lerian Bank S.A.", "doingBusinessAs": None}

    def make(self) -> Organization:
        organization = OrganizationFactory()
        for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
            member(self.users[role], organization, role)
        return organization

    def creator(self):
        return self.staff

    def test_create_under_another_tenant_is_404(self):
        """Organizations have no parent in the path: an outsider is refused like any
        non-staff user."""
        response = self.as_("outsider").post(self.collection_url(), self.create_data, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "9004")

    def test_create_makes_the_creator_its_admin(self):
        created = self.as_("staff").post(self.collection_url(), self.create_data, format="json")
        organization_id = created.json()["id"]
        assert self.as_("staff").delete(f"/v1/organizations/{organization_id}").status_code == 204

    def test_patch_refuses_a_legal_document_change(self):
        response = self.as_("operator").patch(
            self.detail_url(self.make()), {"legalDocument": "1"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["fields"] == {"legalDocument": "cannot be changed"}


class TestLedgers(EntityAPITestCase):
    model = Ledger
    collection = "organizations/{org}/ledgers"
    entity_type = "Ledger"
    create_data: ClassVar = {"name": "Treasury", "metadata": {"team": "ops"}}
    update_data: ClassVar = {"name": "Treasury operations"}

    def make(self) -> Entity:
        return LedgerFactory(organization=self.organization)


class TestLedgerSegments(EntityAPITestCase):
    model = Segment
    collection = "organizations/{org}/ledgers/{ledger}/segments"
    entity_type = "Segment"
    create_data: ClassVar = {"name": "Black", "description": "Premium cards"}
    update_data: ClassVar = {"name": "Black card", "description": None}

    def make(self) -> Entity:
        return SegmentFactory(ledger=self.ledger)

    def test_create_update_and_delete_are_recorded_in_the_history(self):
        client = self.as_("admin")
        created = client.post(self.collection_url(), self.create_data, format="json").json()
        url = f"{self.collection_url()}/{created['id']}"
        client.patch(url, self.update_data, format="json")
        client.delete(url)
        actions = list(
            SegmentHistory.objects.filter(segment_id=created["id"])
            .order_by("created_at")
            .values_list("action", "actor_name")
        )
        assert actions == [("created", "admin"), ("updated", "admin"), ("deleted", "admin")]

    def test_body_carries_member_counts(self):
        segment = self.make()
        AccountFactory.create_batch(2, ledger=self.ledger, segment=segment)
        PortfolioFactory(ledger=self.ledger, segment=segment)
        body = self.as_("viewer").get(self.detail_url(segment)).json()
        assert (body["accountCount"], body["portfolioCount"]) == (2, 1)
        listed = self.as_("viewer").get(self.collection_url()).json()["items"]
        assert [(item["accountCount"], item["portfolioCount"]) for item in listed] == [(2, 1)]


class TestOrganizationSegments(TestLedgerSegments):
    collection = "organizations/{org}/segments"

    def make(self) -> Entity:
        return SegmentFactory(ledger=None, organization=self.organization)

    def test_body_has_no_ledger(self):
        body = self.as_("viewer").get(self.detail_url(self.make())).json()
        assert body["ledgerId"] is None

    def test_ledger_segments_are_not_organization_segments(self):
        response = self.as_("viewer").get(self.detail_url(SegmentFactory(ledger=self.ledger)))
        assert response.status_code == 404


class TestPortfolios(EntityAPITestCase):
    model = Portfolio
    collection = "organizations/{org}/ledgers/{ledger}/portfolios"
    entity_type = "Portfolio"
    create_data: ClassVar = {"name": "Retail", "entityId": "client-42"}
    update_data: ClassVar = {"name": "Retail clients"}

    def make(self) -> Entity:
        return PortfolioFactory(ledger=self.ledger)


class TestAccounts(EntityAPITestCase):
    model = Account
    collection = "organizations/{org}/ledgers/{ledger}/accounts"
    entity_type = "Account"
    create_data: ClassVar = {
        "name": "Checking",
        "type": "deposit",
        "assetCode": "BRL",
        "alias": "@maria",
        "blocked": False,
    }
    update_data: ClassVar = {"name": "Main checking", "blocked": True}

    def make(self) -> Entity:
        return AccountFactory(ledger=self.ledger)

    def test_lookup_by_alias(self):
        account = AccountFactory(ledger=self.ledger, alias="@joao")
        response = self.as_("viewer").get(f"{self.collection_url()}/alias/@joao")
        assert response.status_code == 200
        assert response.json()["id"] == str(account.pk)
        assert response["ETag"]
        assert self.as_("viewer").get(f"{self.collection_url()}/alias/@nobody").status_code == 404

    def test_lookup_of_an_external_account_by_code(self):
        account = AccountFactory(ledger=self.ledger, alias="@external/BRL", type="external")
        response = self.as_("viewer").get(f"{self.collection_url()}/external/BRL")
        assert response.status_code == 200
        assert response.json()["id"] == str(account.pk)
        assert self.as_("viewer").get(f"{self.collection_url()}/external/USD").status_code == 404

    def test_type_asset_code_and_alias_cannot_change(self):
        response = self.as_("operator").patch(
            self.detail_url(self.make()), {"type": "savings", "alias": "@x"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "type": "cannot be changed",
            "alias": "cannot be changed",
        }

    def test_cursor_pages_walk_the_whole_list(self):
        made = {str(self.make().pk) for _ in range(5)}
        client = self.as_("viewer")
        first = client.get(self.collection_url(), {"limit": 2}).json()
        seen = [item["id"] for item in first["items"]]
        cursor = first["next_cursor"]
        assert "prev_cursor" not in first
        while cursor:
            page = client.get(self.collection_url(), {"limit": 2, "cursor": cursor}).json()
            assert "prev_cursor" in page
            seen += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
        assert set(seen) == made
        assert len(seen) == len(made)
        back = client.get(self.collection_url(), {"limit": 2, "cursor": page["prev_cursor"]})
        assert [item["id"] for item in back.json()["items"]] == seen[-3:-1]

    def test_list_filters_by_segment_portfolio_and_blocked(self):
        segment = SegmentFactory(ledger=self.ledger)
        portfolio = PortfolioFactory(ledger=self.ledger)
        in_segment = AccountFactory(ledger=self.ledger, segment=segment)
        in_portfolio = AccountFactory(ledger=self.ledger, portfolio=portfolio, blocked=True)
        AccountFactory(ledger=self.ledger)
        client = self.as_("viewer")

        def ids(**params):
            return [
                item["id"] for item in client.get(self.collection_url(), params).json()["items"]
            ]

        assert ids(segment_id=segment.pk) == [str(in_segment.pk)]
        assert ids(portfolio_id=portfolio.pk) == [str(in_portfolio.pk)]
        assert ids(blocked="true") == [str(in_portfolio.pk)]
