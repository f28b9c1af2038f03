"""The back office decides differently from the API (issue 10, item 2): a staff user sees
every organization in the admin, so any live organization may become a parent there."""

from __future__ import annotations

import pytest

from segments.models import Organization, Status
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_staff_link_any_live_organization_as_parent_in_the_admin(staff_client, organization):
    holding = OrganizationFactory(legal_name="Holding of another tenant")
    data = {
        "legal_name": organization.legal_name,
        "doing_business_as": "",
        "parent_organization": str(holding.pk),
        "address": "{}",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    response = staff_client.post(f"/admin/segments/organization/{organization.pk}/change/", data)
    assert response.status_code == 302, response.content
    assert Organization.objects.get(pk=organization.pk).parent_organization_id == holding.pk
