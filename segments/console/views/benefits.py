"""A segment's Benefits tab: the list in words, a benefit's page with its versions, and
the create, edit and delete dialogs. Reads go through the same selectors and FilterSet as
the API (``selectors.benefits_of`` + ``BenefitFilterSet``); writes through
``services.create_benefit`` / ``update_benefit`` / ``delete_benefit``, whose refusals
come back beside the field they name (``BenefitForm.add_refusal``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from segments import errors, selectors, services
from segments.console.benefit_forms import BenefitForm
from segments.console.benefit_words import KIND_LABELS, parameters_in_words, window_in_words
from segments.console.presenters import status_label
from segments.console.views.benefit_rows import describe_benefit as describe
from segments.console.views.htmx import htmx_done, render_page, with_toast
from segments.console.views.lists import list_state, paginate_or_error, render_list_page
from segments.console.views.scope import benefit_url, console_view, require, segment_url
from segments.console.views.segments import _segment_for, segment_page_context
from segments.filters import BenefitFilterSet, apply_filters
from segments.models import Benefit, Segment
from segments.tenancy import Action

DIALOG = {"dialog-body": "dialog"}
BENEFITS_CHANGED = ("benefits-changed",)
BENEFIT_FILTERS = ("kind", "status", "name")


def _benefits(request: HttpRequest, segment: Segment, params: dict[str, str]):
    rows = selectors.benefits_of(request.user, segment)
    return apply_filters(BenefitFilterSet, params, rows).select_related(
        "segment__organization", "segment__ledger"
    )


@console_view
@require_safe
def benefits_tab(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """What the segment grants: each benefit's kind, grant in words, window, status,
    priority and group; filterable by kind and status, paged."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    context = segment_page_context(request, segment, scope, "benefits")
    state = list_state(request.GET, BENEFIT_FILTERS, default_sort="priority", default_order="asc")
    page, error = paginate_or_error(lambda: _benefits(request, segment, state.params), state.params)
    for benefit in page.object_list:
        describe(benefit)
    context |= {
        "state": state,
        "page": page,
        "filter_error": error,
        "list_url": segment_url(segment, "benefits"),
        "create_url": segment_url(segment, "benefit_create"),
        "kinds": list(KIND_LABELS.items()),
    }
    return render_list_page(
        request,
        "console/segment/benefits.html",
        context,
        {"tab-body": "tab", "benefits-table": "table"},
        page,
    )


# Alike in shape to the other segment views (edit and delete below, rule_preview_job in
# console/views/rules.py): the decorators and the segment lookup every segment view opens
# with; kept apart because what follows is each page's own.
@console_view
@require_safe
def benefit_page(
    request: HttpRequest, organization_id, segment_id, benefit_id, ledger_id=None
) -> HttpResponse:
    """One benefit: what it grants, and every version it has had (who, when, what)."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    benefit = describe(selectors.get_benefit(request.user, segment, benefit_id))
    versions = list(selectors.benefit_versions(benefit))
    for version in versions:
        version.grants = parameters_in_words(version.kind, version.parameters)
        version.window = window_in_words(version.valid_from, version.valid_until)
        version.status_label = status_label(version.status_code)
        version.kind_label = str(KIND_LABELS.get(version.kind, version.kind))
    context = segment_page_context(request, segment, scope, "benefits")
    context["breadcrumb"] = [
        *context["breadcrumb"][:-1],
        (segment.name, segment_url(segment)),
        (gettext("Benefits"), segment_url(segment, "benefits")),
        (benefit.name, None),
    ]
    context |= {"benefit": benefit, "versions": versions}
    return render_page(request, "console/segment/benefit.html", context, {"tab-body": "tab"})


# --------------------------------------------------------------------------- dialogs


# Alike in shape to _render_form of console/views/records.py; kept apart because each
# builds its own dialog's context (here a benefit's segment, conflict link and toast;
# there a ledger's account or portfolio tab) for its own template.
def _dialog(
    request: HttpRequest,
    segment: Segment,
    form: BenefitForm,
    *,
    status: int = 200,
    toast: str | None = None,
) -> HttpResponse:
    benefit = form.benefit
    context = {
        "segment": segment,
        "form": form,
        "benefit": benefit,
        "form_action": benefit_url(benefit, "edit")
        if benefit
        else segment_url(segment, "benefit_create"),
        "cancel_url": segment_url(segment, "benefits"),
        "conflict_url": benefit_url(form.conflict) if form.conflict else None,
    }
    response = render_page(request, "console/benefits/form.html", context, DIALOG, status=status)
    return with_toast(response, toast)


def _rival(segment: Segment, exc: errors.DomainError) -> Benefit | None:
    """The benefit a 9012 refusal names (same segment, so the same tenant)."""
    rival_id = exc.values.get("exclusivity_group") if isinstance(exc.values, dict) else None
    return Benefit.objects.filter(segment=segment, pk=rival_id).select_related("segment").first()


def _save(
    request: HttpRequest,
    segment: Segment,
    form: BenefitForm,
    write: Callable[[dict[str, Any], str | None], Any],
    done: str,
    fallback_url: str,
) -> HttpResponse:
    """A dialog's save: the form again (422) with the form's or the service's refusal
    beside its field, else done (the list refreshes, the dialog closes)."""
    if not form.is_valid():
        return _dialog(request, segment, form, status=422)
    try:
        write(form.fields_for_service(), form.cleaned_data["etag"] or None)
    except errors.DomainError as exc:
        toast = form.add_refusal(exc, _rival(segment, exc))
        return _dialog(request, segment, form, status=422, toast=toast)
    return htmx_done(request, done, events=BENEFITS_CHANGED, fallback_url=fallback_url)


def _redraw(request: HttpRequest) -> bool:
    """A change of kind in the dialog: draw the form again with the kind's fields."""
    return request.method == "GET" and "kind" in request.GET


@console_view
def create(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """New benefit. The dialog's fields follow the kind chosen; a refused save shows the
    reason beside the field (a 9012 conflict with a link to the other benefit)."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    if request.method != "POST":
        return _dialog(request, segment, BenefitForm(initial=request.GET.dict()))
    return _save(
        request,
        segment,
        BenefitForm(request.POST),
        lambda fields, etag: services.create_benefit(request.user, segment, **fields),
        gettext("Benefit created"),
        segment_url(segment, "benefits"),
    )


@console_view
def edit(
    request: HttpRequest, organization_id, segment_id, benefit_id, ledger_id=None
) -> HttpResponse:
    """Edit a benefit; saving over a newer version than the one shown is refused."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    benefit = selectors.get_benefit(request.user, segment, benefit_id)
    if request.method != "POST":
        initial = {"etag": services.entity_etag(benefit)}
        if _redraw(request):
            initial |= request.GET.dict()
        return _dialog(request, segment, BenefitForm(benefit=benefit, initial=initial))
    return _save(
        request,
        segment,
        BenefitForm(request.POST, benefit=benefit),
        lambda fields, etag: services.update_benefit(request.user, benefit, fields, if_match=etag),
        gettext("Benefit updated"),
        benefit_url(benefit),
    )


@console_view
def delete(
    request: HttpRequest, organization_id, segment_id, benefit_id, ledger_id=None
) -> HttpResponse:
    """Delete a benefit (admins): it stops applying at once; its versions are kept."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.DELETE)
    benefit = describe(selectors.get_benefit(request.user, segment, benefit_id))
    if request.method == "POST":
        services.delete_benefit(request.user, benefit)
        return htmx_done(
            request,
            gettext("Benefit “%(name)s” deleted") % {"name": benefit.name},
            events=BENEFITS_CHANGED,
            fallback_url=segment_url(segment, "benefits"),
            redirect_to=segment_url(segment, "benefits")
            if request.POST.get("from") == "detail"
            else None,
        )
    context = {
        "segment": segment,
        "benefit": benefit,
        "from_detail": request.GET.get("from") == "detail",
        "form_action": benefit.delete_url,
        "cancel_url": segment_url(segment, "benefits"),
    }
    return render_page(request, "console/benefits/delete.html", context, DIALOG)
