"""Sign-in landing: the organizations the user belongs to, and an organization's page
(its ledgers and its organization-level segments)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from segments import selectors
from segments.console.views.lists import render_list_page
from segments.console.views.scope import console_view, resolve_scope
from segments.console.views.segment_lists import segment_list_context
from segments.console.views.segments import create_dialog_context
from segments.models import Membership


@console_view
@require_safe
def organizations(request: HttpRequest) -> HttpResponse:
    """``/``: the organizations where the user holds a membership, with the user's role."""
    rows = list(selectors.list_organizations(request.user, {"sort_order": "asc"}))
    roles = dict(
        Membership.objects.filter(user_id=request.user.pk).values_list("organization_id", "role")
    )
    for organization in rows:
        organization.role = roles.get(organization.pk)
    return render(request, "console/organizations.html", {"organizations": rows})


@console_view
@require_safe
def organization(request: HttpRequest, organization_id) -> HttpResponse:
    """An organization: its ledgers, and its organization-level segments (usable by every
    ledger), with the same list tools as a ledger's Segments tab."""
    scope = resolve_scope(request, organization_id)
    context = {
        "scope": scope,
        "organization": scope.organization,
        "ledgers": list(
            selectors.list_ledgers(request.user, scope.organization, {"sort": "created"})
        ),
        **segment_list_context(request, scope),
    }
    if request.GET.get("create") and scope.can_change and not request.htmx:
        context |= create_dialog_context(scope)
    return render_list_page(
        request, "console/organization.html", context, {"segments-table": "table"}, context["page"]
    )
