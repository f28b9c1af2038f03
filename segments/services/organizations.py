"""Organizations: the tenants. The creating user becomes an organization's admin; a
parent organization is one the actor may name, never the organization itself or one of
its descendants; an organization holding live ledgers, segments or child organizations
is not deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segments import errors, tenancy
from segments.ids import as_uuid
from segments.locking import atomic_service
from segments.models import Membership, Organization, Role
from segments.services.events import emit_entity
from segments.services.rows import delete_checked, hold_live, lock_for_update
from segments.services.validation import (
    new_entity,
    refuse_unknown_changes,
    save_changes,
    validate_and_insert,
)


@atomic_service
def create_organization(actor, *, back_office: bool = False, **fields: Any) -> Organization:
    """Create an organization. The creating user becomes its admin. A parent must be a
    live organization the actor may name (``_set_parent_organization``; 0038 otherwise).
    ``back_office`` is the Django admin's call (staff may name any organization)."""
    organization = new_entity(Organization, fields, set_apart={"parent_organization_id"})
    if fields.get("parent_organization_id"):
        _set_parent_organization(
            organization, fields["parent_organization_id"], actor, back_office=back_office
        )
    validate_and_insert(organization)
    if getattr(actor, "is_authenticated", False):
        Membership.objects.create(user=actor, organization=organization, role=Role.ADMIN)
    emit_entity(organization, "created")
    return organization


def _set_parent_organization(
    organization: Organization, parent_id: Any, actor, *, back_office: bool = False
) -> None:
    """A parent organization is a live organization that the actor may name
    (``tenancy.may_name_parent_organization``: one they cannot see is "not found", 0038,
    with the very body of an id that does not exist), other than itself and not one of its
    descendants. Keeping the current parent is always allowed."""
    if parent_id is None:
        organization.parent_organization_id = None
        return
    parent_uuid = as_uuid(parent_id, "parent_organization_id")
    if parent_uuid == organization.parent_organization_id:
        return
    if not tenancy.may_name_parent_organization(
        actor, parent_uuid, back_office=back_office
    ) or not hold_live(Organization, parent_uuid):
        raise errors.OrganizationNotFound(
            entity_type="Organization",
            fields={"parent_organization_id": "organization not found"},
        )
    ancestor = Organization.all_objects.filter(pk=parent_uuid).first()
    while ancestor is not None:
        if ancestor.pk == organization.pk:
            raise errors.InvalidField(
                "An organization cannot be its own ancestor.",
                entity_type="Organization",
                fields={"parent_organization_id": "would create a cycle"},
            )
        ancestor = ancestor.parent_organization
    organization.parent_organization_id = parent_uuid


@atomic_service
def update_organization(
    actor,
    organization: Organization,
    changes: Mapping[str, Any],
    *,
    if_match: str | None = None,
    back_office: bool = False,
) -> Organization:
    """Change an organization's fields; legal document and ids never change. A new parent
    follows ``_set_parent_organization`` (``back_office``: the Django admin's call)."""
    refuse_unknown_changes(Organization, changes)
    organization = lock_for_update(organization)
    if "parent_organization_id" in changes:
        _set_parent_organization(
            organization, changes["parent_organization_id"], actor, back_office=back_office
        )
    organization = save_changes(organization, changes, if_match, handled={"parent_organization_id"})
    emit_entity(organization, "updated")
    return organization


@atomic_service
def delete_organization(actor, organization: Organization, *, if_match: str | None = None) -> None:
    """An organization that still holds live ledgers, segments or child organizations
    cannot be deleted (9002)."""
    organization = delete_checked(
        organization,
        if_match,
        children={"ledgers": "ledgers", "segments": "segments", "organizations": "children"},
    )
    emit_entity(organization, "deleted")
