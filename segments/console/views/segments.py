"""A segment: create, edit and delete (dialogs), and its page with the sub-tabs
Overview · Members · Rule · Benefits · History. The same views serve ledger segments and
organization segments (no ledger in the path)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from segments import errors, selectors, services, tenancy
from segments.console import form_tokens
from segments.console.forms import SegmentForm, add_domain_error, non_field_text
from segments.console.presenters import history_entries, status_label
from segments.console.views.benefit_rows import describe_benefit
from segments.console.views.htmx import htmx_done, render_page, with_toast
from segments.console.views.lists import paginate_or_error
from segments.console.views.scope import (
    Scope,
    console_view,
    require,
    resolve_scope,
    segment_scope,
    segment_url,
)
from segments.models import Segment, SegmentRule
from segments.tenancy import Action

DIALOG = {"dialog-body": "dialog"}
SEGMENTS_CHANGED = ("segments-changed",)


def _segment_for(
    request: HttpRequest, organization_id, ledger_id, segment_id
) -> tuple[Segment, Scope]:
    segment = selectors.get_segment(request.user, organization_id, ledger_id, segment_id)
    return segment, segment_scope(segment, tenancy.role_of(request.user, segment.organization_id))


def rule_of(segment: Segment) -> SegmentRule | None:
    """A dynamic segment's rule (read with the segment by ``selectors.get_segment``), or
    None for a manual segment."""
    return getattr(segment, "rule", None)


# --------------------------------------------------------------------------- create, edit


def create_dialog_context(scope: Scope, form: SegmentForm | None = None) -> dict[str, Any]:
    """The New segment dialog, with a fresh one-time token (double-submit guard)."""
    form = form or SegmentForm(initial={"form_token": form_tokens.issue()})
    return {
        "form": form,
        "scope": scope,
        "form_action": scope.segment_create_url,
        "dialog_open": True,
        "dialog_template": "console/segments/form.html#dialog",
    }


@console_view
def create(request: HttpRequest, organization_id, ledger_id=None) -> HttpResponse:
    scope = resolve_scope(request, organization_id, ledger_id)
    require(request, scope, Action.CHANGE)
    if request.method != "POST":
        context = create_dialog_context(scope) | {"cancel_url": scope.segments_url}
        return render_page(request, "console/segments/form.html", context, DIALOG)
    form = SegmentForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, scope, form)
    token = form.cleaned_data["form_token"]
    if not form_tokens.claim(request.user.pk, token):
        # The same form sent twice (double click, resubmitted page): already handled.
        return htmx_done(
            request,
            gettext("Segment created"),
            events=SEGMENTS_CHANGED,
            fallback_url=scope.segments_url,
        )
    try:
        segment = services.create_segment(
            request.user, scope.ledger or scope.organization, **form.create_fields()
        )
    except errors.DomainError as exc:
        form_tokens.release(request.user.pk, token)
        toast = add_domain_error(form, exc, organization_level=scope.ledger is None)
        return _form_errors(request, scope, form, toast=toast)
    form_tokens.complete(request.user.pk, token, segment.pk)
    return htmx_done(
        request,
        gettext("Segment created"),
        events=SEGMENTS_CHANGED,
        fallback_url=scope.segments_url,
    )


@console_view
def edit(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Edit a segment. The form carries the ETag of the version it showed; saving over a
    newer version is refused ("This segment changed since you opened it")."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    if request.method != "POST":
        form = SegmentForm(segment=segment, initial={"etag": services.entity_etag(segment)})
        return render_page(
            request, "console/segments/form.html", _edit_context(scope, segment, form), DIALOG
        )
    form = SegmentForm(request.POST, segment=segment)
    if not form.is_valid():
        return _form_errors(request, scope, form, segment=segment)
    try:
        services.update_segment(
            request.user, segment, form.changes(), if_match=form.cleaned_data["etag"] or None
        )
    except errors.DomainError as exc:
        toast = add_domain_error(form, exc, organization_level=scope.ledger is None)
        return _form_errors(request, scope, form, segment=segment, toast=toast)
    return htmx_done(
        request,
        gettext("Segment updated"),
        events=SEGMENTS_CHANGED,
        fallback_url=segment_url(segment),
    )


def _edit_context(scope: Scope, segment: Segment, form: SegmentForm) -> dict[str, Any]:
    return {
        "form": form,
        "scope": scope,
        "segment": segment,
        "form_action": segment_url(segment, "edit"),
        "cancel_url": segment_url(segment),
    }


def _form_errors(
    request: HttpRequest,
    scope: Scope,
    form: SegmentForm,
    *,
    segment: Segment | None = None,
    toast: str | None = None,
) -> HttpResponse:
    """The form again, with what was typed and the errors beside their fields (422)."""
    if segment is None:
        context = create_dialog_context(scope, form) | {"cancel_url": scope.segments_url}
    else:
        context = _edit_context(scope, segment, form)
    response = render_page(request, "console/segments/form.html", context, DIALOG, status=422)
    return with_toast(response, toast)


# --------------------------------------------------------------------------- delete


@console_view
def delete(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Delete a segment (admins). With members, the dialog names the counts and offers to
    detach them and delete, in one transaction (``services.delete_segment(detach=True)``)."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.DELETE)
    from_detail = request.GET.get("from") == "detail" or request.POST.get("from") == "detail"
    error = ""
    if request.method == "POST":
        try:
            services.delete_segment(request.user, segment, detach=request.POST.get("detach") == "1")
        except errors.SegmentHasMembers as exc:
            error = non_field_text(exc)
        else:
            return htmx_done(
                request,
                gettext("Segment “%(name)s” deleted") % {"name": segment.name},
                events=SEGMENTS_CHANGED,
                fallback_url=scope.segments_url,
                redirect_to=scope.segments_url if from_detail else None,
            )
    context = {
        "segment": segment,
        "scope": scope,
        "counts": (counts := selectors.segment_counts(segment)),
        "benefits": counts["benefits"],
        "from_detail": from_detail,
        "error": error,
        "form_action": segment_url(segment, "delete"),
        "cancel_url": segment_url(segment) if from_detail else scope.segments_url,
    }
    response = render_page(
        request, "console/segments/delete.html", context, DIALOG, status=422 if error else 200
    )
    return with_toast(response, error)


# --------------------------------------------------------------------------- segment page


OVERVIEW_BENEFITS = 5
SEGMENT_TABS = (
    ("overview", _("Overview"), ""),
    ("members", _("Members"), "members"),
    ("rule", _("Rule"), "rule"),
    ("benefits", _("Benefits"), "benefits"),
    ("history", _("History"), "history"),
)


def segment_page_context(
    request: HttpRequest, segment: Segment, scope: Scope, current: str
) -> dict[str, Any]:
    """Header, breadcrumb and sub-tabs of a segment's page; Members and Benefits show
    their counts; a dynamic segment's rule (``rule``) says so in the header."""
    counts = selectors.segment_counts(segment)
    tab_counts = {
        "members": counts["accounts"] + counts["portfolios"],
        "benefits": counts["benefits"],
    }
    tabs = [
        {
            "key": key,
            "label": label,
            "count": tab_counts.get(key),
            "url": segment_url(segment, action),
            "current": key == current,
        }
        for key, label, action in SEGMENT_TABS
    ]
    return {
        "segment": segment,
        "scope": scope,
        "rule": rule_of(segment),
        "rule_url": segment_url(segment, "rule"),
        "organization": segment.organization,
        "ledger": segment.ledger,
        "counts": counts,
        "tabs": tabs,
        "tab": current,
        "breadcrumb": _breadcrumb(segment, scope, current),
        "status_label": status_label(segment.status_code),
        "edit_url": segment_url(segment, "edit"),
        "delete_url": segment_url(segment, "delete") + "?from=detail",
        "page_url": segment_url(segment, "" if current == "overview" else current),
    }


def _breadcrumb(segment: Segment, scope: Scope, current: str) -> list[tuple[str, str | None]]:
    """Organization › ledger › Segments › the segment (a link unless on its Overview); an
    organization segment's trail goes through the organization's segments instead."""
    organization_url = reverse(
        "console:organization", kwargs={"organization_id": segment.organization_id}
    )
    breadcrumb = [(segment.organization.legal_name, organization_url)]
    if not segment.is_organization_level:
        breadcrumb += [
            (segment.ledger.name, reverse("console:ledger", kwargs=scope.kwargs)),
            (gettext("Segments"), scope.segments_url),
        ]
    else:
        breadcrumb.append((gettext("Organization segments"), organization_url + "#segments"))
    breadcrumb.append((segment.name, segment_url(segment) if current != "overview" else None))
    return breadcrumb


@console_view
@require_safe
def overview(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Facts, metadata, description and member counts, including the accounts reached
    through portfolios."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    context = segment_page_context(request, segment, scope, "overview")
    context["etag"] = services.entity_etag(segment)
    benefits = selectors.benefits_of(request.user, segment).select_related(
        "segment__organization", "segment__ledger"
    )
    context |= {
        "benefits": [describe_benefit(benefit) for benefit in benefits[:OVERVIEW_BENEFITS]],
        "benefit_count": next(tab["count"] for tab in context["tabs"] if tab["key"] == "benefits"),
        "benefits_url": segment_url(segment, "benefits"),
    }
    return render_page(request, "console/segment/overview.html", context, {"tab-body": "tab"})


@console_view
@require_safe
def history(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Who changed what, and when (before → after), newest first, paged."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    context = segment_page_context(request, segment, scope, "history")
    params = {"page": request.GET.get("page", "1"), "limit": "20"}
    page, error = paginate_or_error(
        lambda: selectors.list_segment_history(request.user, segment), params
    )
    context |= {
        "page": page,
        "entries": history_entries(page.object_list),
        "filter_error": error,
        "list_url": segment_url(segment, "history"),
    }
    return render_page(
        request,
        "console/segment/history.html",
        context,
        {"tab-body": "tab", "history-table": "table"},
    )
