"""The ledger page: tabs Overview · Segments · Accounts · Portfolios, each at its own
URL. A direct GET renders the whole page; a tab switch (htmx, target ``tab-body``)
renders only the tab, with the tab bar and breadcrumb refreshed out of band."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from segments import selectors
from segments.console.views.htmx import render_page
from segments.console.views.lists import render_list_page
from segments.console.views.scope import Scope, console_view, resolve_scope
from segments.console.views.segment_lists import attach_segment_urls, segment_list_context
from segments.console.views.segments import create_dialog_context

TABS = (
    ("overview", _("Overview"), "console:ledger"),
    ("segments", _("Segments"), "console:ledger_segments"),
    ("accounts", _("Accounts"), "console:ledger_accounts"),
    ("portfolios", _("Portfolios"), "console:ledger_portfolios"),
)
TAB_PARTIALS = {"tab-body": "tab"}


def ledger_context(request: HttpRequest, scope: Scope, current: str) -> dict[str, Any]:
    """Header, breadcrumb and tab bar of the ledger page; each tab label carries its count
    (three count queries)."""
    ledger = scope.ledger
    counts = selectors.ledger_counts(request.user, ledger)
    tabs = [
        {
            "key": key,
            "label": label,
            "count": counts.get(key),
            "url": reverse(url_name, kwargs=scope.kwargs),
            "current": key == current,
        }
        for key, label, url_name in TABS
    ]
    current_label = next(tab["label"] for tab in tabs if tab["current"])
    return {
        "scope": scope,
        "organization": scope.organization,
        "ledger": ledger,
        "tab": current,
        "tabs": tabs,
        "counts": counts,
        "breadcrumb": [
            (
                scope.organization.legal_name,
                reverse("console:organization", kwargs={"organization_id": scope.organization.pk}),
            ),
            (ledger.name, reverse("console:ledger", kwargs=scope.kwargs)),
            (current_label, None),
        ],
    }


@console_view
@require_safe
def overview(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    """Overview: the ledger's facts, its counts and its segments at a glance."""
    scope = resolve_scope(request, organization_id, ledger_id)
    context = ledger_context(request, scope, "overview")
    top_segments = list(
        selectors.list_segments(
            request.user, scope.organization, scope.ledger, {"sort": "name", "sort_order": "asc"}
        )[:6]
    )
    context |= {
        "top_segments": attach_segment_urls(top_segments),
        "organization_segments": selectors.list_segments(
            request.user, scope.organization, None, {}
        ).count(),
        "accounts_without_segment": selectors.list_accounts(
            request.user, scope.ledger, {"segment_id": "none"}
        ).count(),
    }
    return render_page(request, "console/ledger/overview.html", context, TAB_PARTIALS)


@console_view
@require_safe
def segments_tab(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    """Segments: search, filters, sort and paging, all in the URL; ``?create=1`` opens the
    New segment dialog on a full load."""
    scope = resolve_scope(request, organization_id, ledger_id)
    context = ledger_context(request, scope, "segments") | segment_list_context(request, scope)
    if request.GET.get("create") and scope.can_change and not request.htmx:
        context |= create_dialog_context(scope)
    return render_list_page(
        request,
        "console/ledger/segments.html",
        context,
        TAB_PARTIALS | {"segments-table": "table"},
        context["page"],
    )
