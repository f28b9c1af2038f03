"""Where a console request works, and who may do what there: the tenancy scope of a page
(organization, ledger, the user's role), the login-required guard that turns domain
errors into 404 / 403, and the URLs of a segment's pages at its own level. Tenancy
decides (``segments.tenancy``); the views only ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from segments import errors, selectors, tenancy
from segments.models import Benefit, Ledger, Organization, Segment
from segments.tenancy import Action


@dataclass(frozen=True)
class Scope:
    """The organization (and ledger, for ledger pages) a request works in, with the
    user's role there. Organization-level segments have ``ledger=None``."""

    organization: Organization
    ledger: Ledger | None
    role: str | None

    @property
    def can_change(self) -> bool:
        return self.role in tenancy.ROLES_ALLOWED[Action.CHANGE]

    @property
    def can_delete(self) -> bool:
        return self.role in tenancy.ROLES_ALLOWED[Action.DELETE]

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"organization_id": self.organization.pk}
        if self.ledger is not None:
            kwargs["ledger_id"] = self.ledger.pk
        return kwargs

    @property
    def segments_url(self) -> str:
        if self.ledger is None:
            return reverse("console:organization", kwargs=self.kwargs)
        return reverse("console:ledger_segments", kwargs=self.kwargs)

    @property
    def segment_create_url(self) -> str:
        prefix = "" if self.ledger is not None else "org_"
        return reverse(f"console:{prefix}segment_create", kwargs=self.kwargs)


def resolve_scope(request: HttpRequest, organization_id: Any, ledger_id: Any = None) -> Scope:
    """The scope of the path, or 404 when the user may not see it (EntityNotFound)."""
    if ledger_id is None:
        organization = selectors.get_organization(request.user, organization_id)
        ledger = None
    else:
        ledger = selectors.get_ledger(request.user, organization_id, ledger_id)
        organization = ledger.organization
    return Scope(organization, ledger, tenancy.role_of(request.user, organization.pk))


def require(request: HttpRequest, scope: Scope, action: Action) -> None:
    """Refuse (403) a member whose role does not allow ``action`` — tenancy decides."""
    tenancy.authorize(request.user, scope.organization.pk, action)


def segment_scope(segment: Segment, role: str | None) -> Scope:
    return Scope(segment.organization, segment.ledger, role)


def segment_url(segment: Segment, action: str = "", **path: Any) -> str:
    """The console URL of a segment page or action (``action``: '', 'members',
    'members_add', 'members_remove', 'rule', 'rule_save', 'rule_preview', 'rule_remove',
    'rule_refresh', 'rule_refresh_run', 'benefits', 'benefit_create', 'history', 'edit',
    'delete'; with ``path``, a route below the segment, e.g. a benefit's), at its own
    level."""
    prefix = "org_" if segment.is_organization_level else ""
    name = f"console:{prefix}segment" + (f"_{action}" if action else "")
    kwargs: dict[str, Any] = {"organization_id": segment.organization_id, "segment_id": segment.pk}
    if not segment.is_organization_level:
        kwargs["ledger_id"] = segment.ledger_id
    return reverse(name, kwargs=kwargs | path)


def benefit_url(benefit: Benefit, action: str = "") -> str:
    """The console URL of a benefit's page or action ('', 'edit', 'delete')."""
    route = "benefit" + (f"_{action}" if action else "")
    return segment_url(benefit.segment, route, benefit_id=benefit.pk)


def console_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; an object the user may not see answers 404, an action the role
    does not allow answers 403 (``templates/404.html`` / ``403.html``)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except errors.PermissionDenied as exc:
            raise PermissionDenied(exc.message) from None
        except errors.DomainError as exc:
            if exc.http_status == 404:
                raise Http404(exc.message) from None
            raise

    return wrapper
