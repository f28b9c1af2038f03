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

from collections.abc import Callable
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from django.db import models

from segments.errors import EntityNotFound, PermissionDenied
from segments.models import Membership, Organization, Role
from segments.prepared import PreparedQuery


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
    if not is_active_user(user):
        return queryset.none()
    return restrict_to_member(queryset, user.pk, action)


def restrict_to_member[ModelT: models.Model](
    queryset: models.QuerySet[ModelT], user_id: Any, action: Action | str = Action.VIEW
) -> models.QuerySet[ModelT]:
    """``restrict`` for the user ``user_id`` (a value, or a ``prepared.Param``), known to be
    an active user."""
    organizations = Membership.objects.filter(
        user_id=user_id, role__in=ROLES_ALLOWED[Action(action)]
    ).values("organization_id")
    return queryset.filter(**{f"{_organization_path(queryset.model)}__in": organizations})


def is_active_user(user) -> bool:
    """A signed-in, active user: the only kind tenancy lets see anything."""
    return user is not None and user.is_authenticated and user.is_active


def prepare_visible(build: Callable[..., models.QuerySet], **params: models.Field) -> PreparedQuery:
    """The prepared form of ``get_visible``'s query for ``get_visible_prepared``: the first
    row of ``build(**params)`` whose organization the user (``user_id``) may view."""
    return PreparedQuery(
        lambda user_id, **values: restrict_to_member(build(**values), user_id).order_by("pk")[:1],
        user_id=models.IntegerField(),
        **params,
    )


def get_visible[ModelT: models.Model](queryset: models.QuerySet[ModelT], user, **lookup) -> ModelT:
    """The one row matching ``lookup`` that the user may see, or ``EntityNotFound`` (0007),
    whether the row does not exist, is deleted or belongs to another tenant."""
    obj = restrict(queryset, user, Action.VIEW).filter(**lookup).first()
    return _found(obj, queryset.model)


def get_visible_prepared(prepared: PreparedQuery, user, **values: Any) -> Any:
    """``get_visible`` through a query of ``prepare_visible``: the same row, or the same
    ``EntityNotFound``, with the SQL compiled once per process. Inside a request
    (``RequestTenancyMiddleware``), the row's organization is then known to be viewable by
    the user for the rest of the request (``viewable_in_this_request``)."""
    obj = prepared.first(user_id=user.pk, **values) if is_active_user(user) else None
    obj = _found(obj, prepared.template().model)
    known = _viewable_in_request.get()
    if known is not None:
        known.add((user.pk, obj.pk if isinstance(obj, Organization) else obj.organization_id))
    return obj


# (user id, organization id) pairs that a read of this request showed viewable; None
# outside a request, where nothing is remembered.
_viewable_in_request: ContextVar[set | None] = ContextVar("viewable_in_request", default=None)


def viewable_in_this_request(user, organization_id: Any) -> bool:
    """Whether ``get_visible_prepared`` found a row of the organization for this user
    earlier in this request: the user may view it, as checked by the database then (a
    list of that organization need not check it again in the same request)."""
    known = _viewable_in_request.get()
    return bool(known) and is_active_user(user) and (user.pk, organization_id) in known


class RequestTenancyMiddleware:
    """Scopes ``viewable_in_this_request`` to one request: what a request learned is
    forgotten when its response is returned."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        token = _viewable_in_request.set(set())
        try:
            return self.get_response(request)
        finally:
            _viewable_in_request.reset(token)


def _found[ModelT: models.Model](obj: ModelT | None, model: type[ModelT]) -> ModelT:
    if obj is None:
        raise EntityNotFound(
            f"No {model.entity_type.lower()} was found for the given ID.",
            entity_type=model.entity_type,
        )
    return obj


def _may(action: Action) -> PreparedQuery:
    return PreparedQuery(
        lambda user_id, organization_id: restrict_to_member(
            Organization.objects.filter(pk=organization_id), user_id, action
        ).values_list("pk", flat=True)[:1],
        user_id=models.IntegerField(),
        organization_id=models.UUIDField(),
    )


_MAY = {action: _may(action) for action in Action}


def can(user, organization_id, action: Action | str) -> bool:
    """Whether the user's role in the organization allows ``action``."""
    if not is_active_user(user):
        return False
    return _MAY[Action(action)].first(user_id=user.pk, organization_id=organization_id) is not None


def authorize(user, organization_id, action: Action | str) -> None:
    """Refuse (9004) a member whose role does not allow ``action``. Call it only after the
    object was found through ``get_visible``, so non-members already got a 404."""
    if not can(user, organization_id, action):
        raise PermissionDenied(f"Your role in this organization does not allow '{action}'.")


_ROLE = PreparedQuery(
    lambda user_id, organization_id: (
        Membership.objects.filter(user_id=user_id, organization_id=organization_id)
        .order_by("pk")
        .values_list("role", flat=True)[:1]
    ),
    user_id=models.IntegerField(),
    organization_id=models.UUIDField(),
)


def role_of(user, organization_id) -> str | None:
    """The user's role in the organization, or None; for showing or hiding controls."""
    if not user.is_authenticated:
        return None
    return _ROLE.first(user_id=user.pk, organization_id=organization_id)


def _is_active_staff(user) -> bool:
    return is_active_user(user) and user.is_staff


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
    if not _is_active_staff(user):
        raise PermissionDenied("Only staff users may create organizations.")
