"""A segment's members: the accounts and portfolios tagged with it, searchable and paged;
adding them through a searchable picker and removing one or many. Every change goes
through ``services.assign_members`` / ``remove_members`` (one transaction each). A
dynamic segment shows no such control: its rule chooses its members."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_safe

from segments import errors, selectors, services
from segments.console.forms import is_uuid, non_field_text, selected_ids
from segments.console.views.htmx import htmx_done, refuse, render_page, with_toast
from segments.console.views.lists import (
    filter_error,
    list_state,
    paginate_or_error,
    render_list_page,
)
from segments.console.views.scope import console_view, require, segment_url
from segments.console.views.segments import _segment_for, rule_of, segment_page_context
from segments.tenancy import Action

MEMBERS_CHANGED = ("members-changed",)
PICKER_LIMIT = 20


def _kind(data: Any) -> str:
    return "portfolios" if data.get("kind") == "portfolios" else "accounts"


def _added_text(kind: str, count: int) -> str:
    if kind == "portfolios":
        return ngettext("%(count)s portfolio added", "%(count)s portfolios added", count) % {
            "count": count
        }
    return ngettext("%(count)s account added", "%(count)s accounts added", count) % {"count": count}


def _removed_text(counts: dict[str, int]) -> str:
    accounts, portfolios = counts["accounts"], counts["portfolios"]
    if portfolios and not accounts:
        return ngettext(
            "%(count)s portfolio removed", "%(count)s portfolios removed", portfolios
        ) % {"count": portfolios}
    return ngettext("%(count)s account removed", "%(count)s accounts removed", accounts) % {
        "count": accounts
    }


@console_view
@require_safe
def members(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Members tab: accounts or portfolios (``?kind=``) of the segment, searchable (``q``)
    and paged, with checkboxes for bulk removal. Two queries per page, whatever its size."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    context = segment_page_context(request, segment, scope, "members")
    kind = _kind(request.GET)
    state = list_state(request.GET, ("q",))
    select = (
        selectors.list_segment_portfolios
        if kind == "portfolios"
        else selectors.list_segment_accounts
    )
    page, error = paginate_or_error(
        lambda: select(request.user, segment, state.params), state.params
    )
    context |= {
        "kind": kind,
        "ids_field": "portfolio_ids" if kind == "portfolios" else "account_ids",
        "state": state,
        "page": page,
        "filter_error": error,
        "list_url": segment_url(segment, "members"),
        "add_url": segment_url(segment, "members_add") + f"?kind={kind}",
        "remove_url": segment_url(segment, "members_remove"),
        "accepts_members": segment.accepts_members,
        # A dynamic segment's members are its rule's: no control assigns or removes them.
        "can_assign": scope.can_change and rule_of(segment) is None,
    }
    return render_list_page(
        request,
        "console/segment/members.html",
        context,
        {"tab-body": "tab", "members-table": "table"},
        page,
    )


@console_view
def add_members(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """The "Add accounts" picker: search the accounts (or portfolios) the segment may take
    — its ledger's, or every ledger's for an organization segment — check some, add them
    in one call. Checked rows stay checked across searches (sent back with each search)."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    data = request.POST if request.method == "POST" else request.GET
    kind = _kind(data)
    field = "portfolio_ids" if kind == "portfolios" else "account_ids"
    chosen = selected_ids(data, field)
    error = _add(request, segment, field, chosen) if request.method == "POST" else ""
    if request.method == "POST" and not error:
        return htmx_done(
            request,
            _added_text(kind, len(set(chosen))),
            events=MEMBERS_CHANGED,
            fallback_url=segment_url(segment, "members") + f"?kind={kind}",
        )
    context = {
        "segment": segment,
        "scope": scope,
        "kind": kind,
        "field": field,
        **_picker_results(request, segment, kind, data.get("q", "").strip(), chosen),
        "error": error,
        "accepts_members": segment.accepts_members,
        "dynamic": rule_of(segment) is not None,
        "rule_url": segment_url(segment, "rule"),
        "form_action": segment_url(segment, "members_add"),
        "cancel_url": segment_url(segment, "members") + f"?kind={kind}",
    }
    response = render_page(
        request,
        "console/segment/picker.html",
        context,
        {"dialog-body": "dialog", "picker-results": "results"},
        status=422 if error else 200,
    )
    return with_toast(response, error)


def _add(request: HttpRequest, segment, field: str, chosen: list[str]) -> str:
    """Add the checked rows (``services.assign_members``): why not, or "" when added."""
    if not chosen:
        return gettext("Select at least one row to add.")
    try:
        services.assign_members(request.user, segment, **{field: chosen})
    except errors.DynamicSegmentAssignment:
        return gettext("This segment is dynamic: its rule chooses its members.")
    except errors.InvalidField:
        return gettext("Some selected rows can no longer be added; search again.")
    except errors.DomainError as exc:
        return non_field_text(exc)
    return ""


def _picker_results(
    request: HttpRequest, segment, kind: str, query: str, chosen: list[str]
) -> dict[str, Any]:
    """The first matches of the search (name order) with their total, and the rows checked
    earlier that this search does not show (kept, so that they stay checked). A search the
    filters refuse (a NUL character …) matches nothing and says why beside the box, as the
    lists' filters do (``filter_error``)."""
    candidates = (
        selectors.portfolios_assignable_to
        if kind == "portfolios"
        else selectors.accounts_assignable_to
    )
    results, total, search_error = [], 0, ""
    try:
        matches = candidates(
            request.user, segment, {"q": query, "sort": "name", "sort_order": "asc"}
        )
        results = list(matches[:PICKER_LIMIT])
        total = len(results) if len(results) < PICKER_LIMIT else matches.count()
    except errors.DomainError as exc:
        search_error = filter_error(exc)
    shown = {str(row.pk) for row in results}
    hidden = [pk for pk in chosen if pk not in shown and is_uuid(pk)]
    kept = list(candidates(request.user, segment, {}).filter(pk__in=hidden)) if hidden else []
    return {
        "q": query,
        "results": results,
        "total": total,
        "chosen": set(chosen),
        "kept": kept,
        "search_error": search_error,
    }


@console_view
def remove_members(
    request: HttpRequest, organization_id, segment_id, ledger_id=None
) -> HttpResponse:
    """Take the checked accounts / portfolios (or the one of a row) out of the segment."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    back = segment_url(segment, "members") + f"?kind={_kind(request.POST)}"
    if request.method != "POST":
        return refuse(request, gettext("Choose the members to remove."), fallback_url=back)
    accounts = selected_ids(request.POST, "account_ids")
    portfolios = selected_ids(request.POST, "portfolio_ids")
    if not accounts and not portfolios:
        return refuse(request, gettext("Select at least one row to remove."), fallback_url=back)
    try:
        counts = services.remove_members(
            request.user, segment, account_ids=accounts, portfolio_ids=portfolios
        )
    except errors.InvalidField:
        message = gettext("Some selected rows are no longer members of this segment.")
        return refuse(request, message, fallback_url=back)
    except errors.DomainError as exc:
        return refuse(request, non_field_text(exc), fallback_url=back)
    return htmx_done(request, _removed_text(counts), events=MEMBERS_CHANGED, fallback_url=back)
