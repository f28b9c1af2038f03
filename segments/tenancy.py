"""Tenancy: which rows a user may see or change. Nothing else decides it.

A user sees the rows of the organizations where they hold a membership. The role in
that organization decides what they may do:

- ``viewer``: view;
- ``operator``: view, create, update and assign members;
- ``admin``: all of the above, plus delete and manage memberships.

Another organization's rows are simply not there for the user (404, never 403), also
when a request body names them (``may_name_parent_organization``). The back office (the
Django admin) is the one exception: there an active staff user sees every organization
(``visible_organizations(..., back_office=True)``).
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models

from segments.errors import EntityNotFound, PermissionDenied
from segments.models import Membership, Organization, Role


class Action(StrEnum):
    VIEW = "view"
    CHANGE = "change"
    DELETE = "delete"


ROLES_ALLOWED: dict[Action, tuple[str, ...]] = {
    Action.VIEW: (Role.VIEWER, Role.OPERATOR, Role.ADMIN),
    Action.CHANGE: (Role.OPERATOR, Role.ADMIN),
    Action.DELETE: (Role.ADMIN,),
}


def _organization_path(model: type[models.Model]) -> str:
    return "pk" if model is Organization else "organization_id"


def restrict[ModelT: models.Model](
    queryset: models.QuerySet[ModelT], user, action: Action | str = Action.VIEW
) -> models.QuerySet[ModelT]:
    """The rows of ``queryset`` that ``user`` may perform ``action`` on: those of the
    organizations where the user's role allows it. Anonymous and inactive users get
    nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    organizations = Membership.objects.filter(
        user_id=user.pk, role__in=ROLES_ALLOWED[Action(action)]
    ).values("organization_id")
    return queryset.filter(**{f"{_organization_path(queryset.model)}__in": organizations})


def get_visible[ModelT: models.Model](queryset: models.QuerySet[ModelT], user, **lookup) -> ModelT:
    """The one row matching ``lookup`` that the user may see, or ``EntityNotFound`` (0007),
    whether the row does not exist, is deleted or belongs to another tenant."""
    obj = restrict(queryset, user, Action.VIEW).filter(**lookup).first()
    if obj is None:
        raise EntityNotFound(
            f"No {queryset.model.entity_type.lower()} was found for the given ID.",
            entity_type=queryset.model.entity_type,
        )
    return obj


def can(user, organization_id, action: Action | str) -> bool:
    """Whether the user's role in the organization allows ``action``."""
    return restrict(Organization.objects.filter(pk=organization_id), user, action).exists()


def authorize(user, organization_id, action: Action | str) -> None:
    """Refuse (9004) a member whose role does not allow ``action``. Call it only after the
    object was found through ``get_visible``, so non-members already got a 404."""
    if not can(user, organization_id, action):
        raise PermissionDenied(f"Your role in this organization does not allow '{action}'.")


def role_of(user, organization_id) -> str | None:
    """The user's role in the organization, or None; for showing or hiding controls."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user_id=user.pk, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )


def _is_active_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def visible_organizations(user, *, back_office: bool = False) -> models.QuerySet[Organization]:
    """The organizations ``user`` can see: those where they hold a membership, whatever the
    role. In the back office (the Django admin, ``back_office=True``) an active staff user
    sees every organization. Anonymous and inactive users see none."""
    if back_office and _is_active_staff(user):
        return Organization.objects.all()
    return restrict(Organization.objects.all(), user, Action.VIEW)


def may_name_parent_organization(user, organization_id, *, back_office: bool = False) -> bool:
    """Whether ``user`` may make ``organization_id`` an organization's parent. One they
    cannot see (``visible_organizations``) gives False, exactly as an id that does not
    exist, so the caller answers both with the same "not found" and nothing tells them
    apart; one they see where their role does not allow change raises
    ``PermissionDenied`` (9004), since a child changes its parent (an organization with
    live children cannot be deleted). In the back office an active staff user may name any
    organization."""
    if not visible_organizations(user, back_office=back_office).filter(pk=organization_id).exists():
        return False
    if not (back_office and _is_active_staff(user)) and not can(
        user, organization_id, Action.CHANGE
    ):
        raise PermissionDenied(
            "Your role in the parent organization does not allow linking an organization under it."
        )
    return True


def authorize_organization_create(user) -> None:
    """Only staff users create organizations (the creator becomes their admin)."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise PermissionDenied("Only staff users may create organizations.")
