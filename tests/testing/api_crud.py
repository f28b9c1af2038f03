"""The NetBox-style API CRUD case (``APIViewTestCases``): the same create, read, list,
count, update, delete and permission checks for every entity of the API, written once.

A test module under ``tests/api/`` subclasses ``EntityAPITestCase`` per entity and says
only where its collection is, how to make one (``make``) and what to send; a new entity
gets every check by declaring those. Actors: ``viewer``, ``operator`` and ``admin`` are
members of ``organization``; ``outsider`` is not; ``staff`` is a staff user without
memberships (fixtures ``users``, ``organization``, ``ledger`` of ``tests/conftest.py``,
``client_for`` and ``staff`` of ``tests/api/conftest.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from segments.models import Entity


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
