"""The same CRUD and permission checks for every entity of the API, written once.

``EntityAPITestCase`` holds the checks (NetBox's ``APIViewTestCases`` style); each entity's
test class only says where its collection is, how to make one, and what to send. Actors:
``viewer``, ``operator`` and ``admin`` are members of ``organization``; ``outsider`` is
not; ``staff`` is a staff user without memberships.
"""

from __future__ import annotations

from typing import Any, ClassVar

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

pytestmark = pytest.mark.django_db


class EntityAPITestCase:
    """The checks. Subclasses set the class attributes below and ``make``."""

    model: ClassVar[type[Entity]]
    collection: ClassVar[str]  # path of the collection; {org} and {ledger} are filled in
    create_data: ClassVar[dict[str, Any]]
    update_data: ClassVar[dict[str, Any]]
    entity_type: ClassVar[str]

    @pytest.fixture(autouse=True)
    def _world(self, client_for, users, organization, ledger, staff):
        self.users = users
        self.organization = organization
        self.ledger = ledger
        self.client_for = client_for
        self.staff = staff

    # --------------------------------------------------------------- per entity

    def make(self) -> Entity:
        raise NotImplementedError

    def creator(self):
        """Who may create one (an operator of the organization)."""
        return self.users["operator"]

    def collection_url(self) -> str:
        return "/v1/" + self.collection.format(org=self.organization.pk, ledger=self.ledger.pk)

    def detail_url(self, obj: Entity) -> str:
        return f"{self.collection_url()}/{obj.pk}"

    def as_(self, actor: str):
        return self.client_for(self.users.get(actor, self.staff))

    # --------------------------------------------------------------- create

    def test_create_answers_201_with_the_entity_and_its_etag(self):
        response = self.client_for(self.creator()).post(
            self.collection_url(), self.create_data, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        for name, value in self.create_data.items():
            if name != "metadata":
                assert body[name] == value, name
        assert body["metadata"] == self.create_data.get("metadata", {})
        assert body["status"] == {"code": "ACTIVE", "description": None}
        assert body["deletedAt"] is None
        assert response["ETag"].startswith('"')
        assert self.model.objects.filter(pk=body["id"]).exists()

    def test_create_refuses_anonymous_with_401(self):
        response = self.client_for(None).post(
            self.collection_url(), self.create_data, format="json"
        )
        assert response.status_code == 401
        assert response.json()["code"] == "9003"
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_create_refuses_a_viewer_with_403(self):
        response = self.as_("viewer").post(self.collection_url(), self.create_data, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "9004"

    def test_create_under_another_tenant_is_404(self):
        response = self.as_("outsider").post(self.collection_url(), self.create_data, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "0007"

    def test_create_refuses_unknown_and_read_only_fields(self):
        body = {**self.create_data, "colour": "red", "id": "0191f7e2-0000-7000-8000-000000000000"}
        response = self.client_for(self.creator()).post(self.collection_url(), body, format="json")
        assert response.status_code == 400
        problem = response.json()
        assert problem["code"] == "0053"
        assert problem["entityType"] == self.entity_type
        assert problem["fields"] == {"colour": "unexpected field", "id": "read-only field"}

    # --------------------------------------------------------------- read

    def test_get_answers_the_entity_and_its_etag(self):
        obj = self.make()
        response = self.as_("viewer").get(self.detail_url(obj))
        assert response.status_code == 200
        assert response.json()["id"] == str(obj.pk)
        assert response["ETag"].startswith('"')

    def test_get_hides_another_tenants_entity_as_404(self):
        response = self.as_("outsider").get(self.detail_url(self.make()))
        assert response.status_code == 404
        assert response.json()["code"] == "0007"

    def test_get_refuses_anonymous_with_401(self):
        response = self.client_for(None).get(self.detail_url(self.make()))
        assert response.status_code == 401

    def test_list_answers_a_page_and_the_total(self):
        made = [self.make() for _ in range(3)]
        response = self.as_("viewer").get(self.collection_url(), {"limit": 2})
        assert response.status_code == 200
        body = response.json()
        assert len(body["items"]) == 2
        assert body["limit"] == 2
        assert body["page"] == 1
        total = int(response["X-Total-Count"])
        assert total >= 3
        ids = {item["id"] for item in body["items"]}
        later = self.as_("viewer").get(self.collection_url(), {"limit": 100}).json()
        assert {str(obj.pk) for obj in made} <= {item["id"] for item in later["items"]}
        assert ids <= {item["id"] for item in later["items"]}

    def test_list_filters_by_metadata_and_answers_an_empty_page_on_no_match(self):
        tagged = self.make()
        type(tagged).objects.filter(pk=tagged.pk).update(metadata={"tier": "black"})
        self.make()
        client = self.as_("viewer")
        hits = client.get(self.collection_url(), {"metadata.tier": "black"}).json()
        assert [item["id"] for item in hits["items"]] == [str(tagged.pk)]
        none = client.get(self.collection_url(), {"metadata.tier": "gold"})
        assert none.status_code == 200
        assert none.json()["items"] == []
        assert none["X-Total-Count"] == "0"

    def test_count_answers_204_with_x_total_count(self):
        before = self.as_("viewer").get(self.collection_url())["X-Total-Count"]
        self.make()
        response = self.as_("viewer").head(f"{self.collection_url()}/metrics/count")
        assert response.status_code == 204
        assert int(response["X-Total-Count"]) == int(before) + 1
        assert response.content == b""

    # --------------------------------------------------------------- update

    def test_patch_changes_only_the_fields_sent(self):
        obj = self.make()
        client = self.as_("operator")
        before = client.get(self.detail_url(obj))
        response = client.patch(self.detail_url(obj), self.update_data, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        for name, value in self.update_data.items():
            if name != "metadata":
                assert body[name] == value, name
        unchanged = set(before.json()) - set(self.update_data) - {"updatedAt", "metadata"}
        assert {name: body[name] for name in unchanged} == {
            name: before.json()[name] for name in unchanged
        }
        assert response["ETag"] != before["ETag"]

    def test_patch_merges_metadata_and_null_removes_a_key(self):
        obj = self.make()
        type(obj).objects.filter(pk=obj.pk).update(metadata={"keep": "1", "drop": "2"})
        response = self.as_("operator").patch(
            self.detail_url(obj), {"metadata": {"drop": None, "new": 3}}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["metadata"] == {"keep": "1", "new": 3}
        cleared = self.as_("operator").patch(
            self.detail_url(obj), {"metadata": None}, format="json"
        )
        assert cleared.json()["metadata"] == {}

    def test_patch_with_only_a_status_description_keeps_the_code(self):
        obj = self.make()
        type(obj).objects.filter(pk=obj.pk).update(status_code="INACTIVE")
        response = self.as_("operator").patch(
            self.detail_url(obj), {"status": {"description": "paused"}}, format="json"
        )
        assert response.json()["status"] == {"code": "INACTIVE", "description": "paused"}

    def test_patch_refuses_a_viewer_with_403_and_an_outsider_with_404(self):
        obj = self.make()
        viewer = self.as_("viewer").patch(self.detail_url(obj), self.update_data, format="json")
        outsider = self.as_("outsider").patch(self.detail_url(obj), self.update_data, format="json")
        assert (viewer.status_code, viewer.json()["code"]) == (403, "9004")
        assert (outsider.status_code, outsider.json()["code"]) == (404, "0007")

    def test_patch_refuses_read_only_fields(self):
        obj = self.make()
        response = self.as_("operator").patch(
            self.detail_url(obj), {"createdAt": "2020-01-01T00:00:00Z"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["fields"] == {"createdAt": "read-only field"}

    def test_patch_with_a_stale_if_match_is_refused_with_412(self):
        obj = self.make()
        client = self.as_("operator")
        etag = client.get(self.detail_url(obj))["ETag"]
        assert (
            client.patch(
                self.detail_url(obj), self.update_data, format="json", HTTP_IF_MATCH=etag
            ).status_code
            == 200
        )
        stale = client.patch(
            self.detail_url(obj), self.update_data, format="json", HTTP_IF_MATCH=etag
        )
        assert (stale.status_code, stale.json()["code"]) == (412, "9006")

    # --------------------------------------------------------------- delete

    def test_delete_by_an_admin_answers_204_and_the_entity_is_gone(self):
        obj = self.make()
        client = self.as_("admin")
        response = client.delete(self.detail_url(obj))
        assert response.status_code == 204
        assert response.content == b""
        assert client.get(self.detail_url(obj)).status_code == 404
        assert type(obj).all_objects.get(pk=obj.pk).deleted_at is not None

    def test_delete_refuses_an_operator_with_403(self):
        obj = self.make()
        response = self.as_("operator").delete(self.detail_url(obj))
        assert (response.status_code, response.json()["code"]) == (403, "9004")
        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_delete_hides_another_tenants_entity_as_404(self):
        response = self.as_("outsider").delete(self.detail_url(self.make()))
        assert response.status_code == 404


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
