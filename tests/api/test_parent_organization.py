"""Cross-tenant link (issue 10, item 2): an organization the caller cannot see is exactly
as "not found" as one that does not exist (same status, code and body) and never
becomes a parent, on create and on update."""

from __future__ import annotations

import uuid

import pytest

from segments.models import Organization, Role
from tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def patch_parent(client, organization, parent_id):
    return client.patch(
        f"/v1/organizations/{organization.pk}",
        {"parentOrganizationId": str(parent_id)},
        format="json",
    )


def test_a_foreign_parent_answers_the_404_of_an_id_that_does_not_exist(
    client_for, admin_user, organization, other_organization
):
    client = client_for(admin_user)
    before = Organization.objects.get(pk=organization.pk).updated_at
    foreign = patch_parent(client, organization, other_organization.pk)
    missing = patch_parent(client, organization, uuid.uuid4())
    assert (foreign.status_code, missing.status_code) == (404, 404)
    assert foreign["Content-Type"] == missing["Content-Type"]
    assert foreign.json() == missing.json()
    assert foreign.json()["code"] == "0038"
    assert list(foreign.json()["fields"]) == ["parentOrganizationId"]
    stored = Organization.objects.get(pk=organization.pk)
    assert stored.parent_organization_id is None
    assert stored.updated_at == before


def test_a_foreign_parent_is_refused_on_create_like_a_missing_one(
    client_for, staff, other_organization
):
    client = client_for(staff)
    answers = [
        client.post(
            "/v1/organizations",
            {"legalName": "Child", "legalDocument": "1", "parentOrganizationId": str(parent)},
            format="json",
        )
        for parent in (other_organization.pk, uuid.uuid4())
    ]
    assert [answer.status_code for answer in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "0038"
    assert not Organization.objects.filter(legal_name="Child").exists()


def test_a_parent_the_caller_can_change_is_linked(client_for, admin_user, organization):
    parent = OrganizationFactory(legal_name="Holding")
    member(admin_user, parent, Role.OPERATOR)
    response = patch_parent(client_for(admin_user), organization, parent.pk)
    assert response.status_code == 200, response.content
    assert response.json()["parentOrganizationId"] == str(parent.pk)
    assert Organization.objects.get(pk=organization.pk).parent_organization_id == parent.pk


def test_a_parent_seen_only_as_viewer_is_refused_9004_and_not_linked(
    client_for, admin_user, organization
):
    parent = OrganizationFactory(legal_name="Holding")
    member(admin_user, parent, Role.VIEWER)
    response = patch_parent(client_for(admin_user), organization, parent.pk)
    assert response.status_code == 403
    assert response.json()["code"] == "9004"
    assert Organization.objects.get(pk=organization.pk).parent_organization_id is None


def test_a_staff_user_of_the_api_sees_only_their_memberships(client_for, organization):
    """Staff see every organization in the back office (the admin), not through the API."""
    staff_admin = UserFactory(username="staff-admin", is_staff=True)
    member(staff_admin, organization, Role.ADMIN)
    foreign = OrganizationFactory(legal_name="Foreign")
    response = patch_parent(client_for(staff_admin), organization, foreign.pk)
    assert (response.status_code, response.json()["code"]) == (404, "0038")
    assert Organization.objects.get(pk=organization.pk).parent_organization_id is None
