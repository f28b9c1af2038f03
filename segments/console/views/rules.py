"""A segment's Rule tab: the rule of a dynamic segment (or, on a manual one, how to make
it dynamic), its editor with field hints and a live preview, saving and removing it, and
the status of its latest refresh. Every rule is the services': ``services.put_rule`` /
``delete_rule`` / ``request_refresh`` write, ``services.preview.preview_rule`` and
``preview_job`` read; their refusals come back beside the field they name
(``RuleForm.add_refusal``). Saving needs the operator role, removing the admin role, as
on the API; any member may preview."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST, require_safe

from segments import errors, services
from segments.console.rule_forms import RuleForm, preview_priority
from segments.console.rule_words import describe_refresh, field_hints, rule_error, subject_label
from segments.console.views.htmx import htmx_done, refuse, render_page, with_toast
from segments.console.views.scope import Scope, console_view, require, segment_url
from segments.console.views.segments import _segment_for, rule_of, segment_page_context
from segments.models import RuleRefresh, RuleSubject, Segment
from segments.services.preview import preview_job, preview_rule
from segments.tenancy import Action

# The Rule tab listens for it and reloads the segment page (its header says "Dynamic").
RULE_CHANGED = ("rule-changed",)
PARTIALS = {"tab-body": "tab", "rule-editor": "editor"}
TEMPLATE = "console/segment/rule.html"
PREVIEW = "console/segment/_rule_preview.html"
REFRESH = "console/segment/_rule_refresh.html"


def latest_refresh(segment: Segment) -> RuleRefresh | None:
    """The segment's latest refresh (the one its last rule change or request enqueued)."""
    return RuleRefresh.objects.filter(segment_id=segment.pk).order_by("-created_at").first()


def _urls(segment: Segment) -> dict[str, str]:
    return {
        "save_url": segment_url(segment, "rule_save"),
        "preview_url": segment_url(segment, "rule_preview"),
        "remove_url": segment_url(segment, "rule_remove"),
        "refresh_url": segment_url(segment, "rule_refresh"),
        "refresh_run_url": segment_url(segment, "rule_refresh_run"),
        "members_url": segment_url(segment, "members"),
    }


def _tab_context(
    request: HttpRequest, segment: Segment, scope: Scope, form: RuleForm
) -> dict[str, Any]:
    rule = rule_of(segment)
    return segment_page_context(request, segment, scope, "rule") | {
        "rule": rule,
        "form": form,
        "hints": field_hints(form.chosen_subject),
        "hints_subject": subject_label(form.chosen_subject),
        "subject_label": subject_label(rule.subject) if rule else "",
        "refresh": describe_refresh(latest_refresh(segment)) if rule else None,
        **_urls(segment),
    }


@console_view
@require_safe
def rule_tab(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """The rule (expression, subject, priority, version, fields, whether it reads now)
    and its latest refresh; the editor for operators; on a manual segment, what a rule
    would do and the form to give it one."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    form = RuleForm.for_rule(segment, rule_of(segment))
    return render_page(request, TEMPLATE, _tab_context(request, segment, scope, form), PARTIALS)


def _editor(
    request: HttpRequest,
    segment: Segment,
    scope: Scope,
    form: RuleForm,
    toast: str | None = None,
) -> HttpResponse:
    """The editor again (422) with what was typed and the refusal beside its field."""
    context = _tab_context(request, segment, scope, form) | {"show_editor": True}
    response = render_page(request, TEMPLATE, context, PARTIALS, status=422)
    return with_toast(response, toast)


@console_view
@require_POST
def rule_save(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Save the rule (``services.put_rule``): the segment turns dynamic (or its rule
    changes) and the refresh of its scope is queued; the page shows it running."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    form = RuleForm(request.POST, segment=segment)
    if not form.is_valid():
        return _editor(request, segment, scope, form)
    fields = form.cleaned_data
    try:
        services.put_rule(
            request.user, segment, fields["expression"], fields["subject"], fields["priority"]
        )
    except errors.DomainError as exc:
        return _editor(request, segment, scope, form, form.add_refusal(exc))
    return htmx_done(
        request,
        gettext("Rule saved; its members are being refreshed."),
        events=RULE_CHANGED,
        fallback_url=segment_url(segment, "rule"),
    )


# --------------------------------------------------------------------------- preview


def _preview_context(segment: Segment, data: Any) -> dict[str, Any]:
    """What the preview fragment shows for the rule typed so far: the preview's answer,
    its job while it takes longer, or the refusal pointed at its position."""
    expression = (data.get("expression") or "").replace("\r\n", "\n")
    subject = data.get("subject") or RuleSubject.ACCOUNT.value
    priority = preview_priority(data.get("priority"))
    rule = rule_of(segment)
    context: dict[str, Any] = {
        "segment": segment,
        "hints": field_hints(subject),
        "hints_subject": subject_label(subject),
        "rank": priority if priority is not None else (rule.priority if rule else None),
        "subject": subject,
        "account_links": segment.ledger_id is not None and subject == RuleSubject.ACCOUNT,
        "oob": True,
    }
    if not expression.strip():
        return context | {"empty": True}
    try:
        answer = preview_rule(
            segment.organization,
            segment.ledger,
            expression=expression,
            subject=subject,
            segment_id=segment.pk,
            priority=priority,
        )
    except errors.InvalidRule as exc:
        return context | {"error": rule_error(exc, expression)}
    return context | {"result": answer.result, "job": answer.job}


def _with_sample_links(context: dict[str, Any], segment: Segment) -> dict[str, Any]:
    """The sample's accounts link to their pages (a ledger segment's accounts)."""
    result = context.get("result")
    if result and context.get("account_links"):
        for row in result["sample"]:
            row["url"] = reverse(
                "console:account",
                kwargs={
                    "organization_id": segment.organization_id,
                    "ledger_id": segment.ledger_id,
                    "account_id": row["id"],
                },
            )
    return context


@console_view
@require_POST
def rule_preview(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """The live preview (htmx, as one types): exact counts of what the rule matches and
    what saving it would change, a sample, the conflicts with other dynamic segments — or
    the refusal under the editor, pointing at the line and column. Read-only."""
    segment, _scope = _segment_for(request, organization_id, ledger_id, segment_id)
    context = _with_sample_links(_preview_context(segment, request.POST), segment)
    context["job_url"] = _job_url(segment, context.get("job"), request.POST)
    return render_page(request, PREVIEW, context, {})


def _job_url(segment: Segment, job: dict[str, Any] | None, data: Any) -> str | None:
    """Where a preview job is polled, with the subject and priority it was asked with."""
    if not job:
        return None
    query = urlencode({"subject": data.get("subject", ""), "priority": data.get("priority", "")})
    return segment_url(segment, "rule_preview_job", job_id=job["id"]) + "?" + query


@console_view
@require_safe
def rule_preview_job(
    request: HttpRequest, organization_id, segment_id, job_id, ledger_id=None
) -> HttpResponse:
    """A preview that went on as a job (it ran past its time): polled until it is done."""
    segment, _scope = _segment_for(request, organization_id, ledger_id, segment_id)
    job = preview_job(segment.organization, segment.ledger, job_id)
    subject = request.GET.get("subject") or RuleSubject.ACCOUNT.value
    context = {
        "segment": segment,
        "result": job["result"],
        "job": None if job["status"] in ("done", "failed") else job,
        "job_failed": job["status"] == "failed",
        "job_url": _job_url(segment, job, request.GET),
        "rank": preview_priority(request.GET.get("priority")),
        "account_links": segment.ledger_id is not None and subject == RuleSubject.ACCOUNT,
    }
    return render_page(request, PREVIEW, _with_sample_links(context, segment), {})


# --------------------------------------------------------------------------- remove


def _removed_text(counts: dict[str, int], keep: bool) -> str:
    members = counts["accounts"] + counts["portfolios"]
    if keep:
        return ngettext(
            "Rule removed; its %(count)s member stays, as a member added by hand.",
            "Rule removed; its %(count)s members stay, as members added by hand.",
            members,
        ) % {"count": members}
    return ngettext(
        "Rule removed; its %(count)s member left the segment.",
        "Rule removed; its %(count)s members left the segment.",
        members,
    ) % {"count": members}


@console_view
@require_POST
def rule_remove(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """Make the segment manual again (admins): its rule's members stay, pinned as
    members added by hand, or leave it — the choice is required."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.DELETE)
    back = segment_url(segment, "rule")
    keep = request.POST.get("keep_members")
    if keep not in ("true", "false"):
        message = gettext("Choose whether the rule’s members stay or leave the segment.")
        return refuse(request, message, fallback_url=back)
    try:
        counts = services.delete_rule(request.user, segment, keep_members=keep == "true")
    except errors.EntityNotFound:
        return refuse(request, gettext("This segment has no rule any more."), fallback_url=back)
    return htmx_done(
        request, _removed_text(counts, keep == "true"), events=RULE_CHANGED, fallback_url=back
    )


# --------------------------------------------------------------------------- refreshes


def _refresh_panel(
    request: HttpRequest, segment: Segment, scope: Scope, status: int = 200
) -> HttpResponse:
    context = {
        "segment": segment,
        "scope": scope,
        "rule": rule_of(segment),
        "refresh": describe_refresh(latest_refresh(segment)),
        **_urls(segment),
    }
    return render_page(request, REFRESH, context, {}, status=status)


@console_view
@require_safe
def rule_refresh(request: HttpRequest, organization_id, segment_id, ledger_id=None) -> HttpResponse:
    """The latest refresh's status and counts; while it is queued or running the panel
    asks again every second, and stops once it is done or failed."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    if not request.htmx:
        return redirect(segment_url(segment, "rule"))
    return _refresh_panel(request, segment, scope)


@console_view
@require_POST
def rule_refresh_run(
    request: HttpRequest, organization_id, segment_id, ledger_id=None
) -> HttpResponse:
    """The "Refresh now" button (operators): queue a refresh of the rule's scope
    (``services.request_refresh``) and follow it."""
    segment, scope = _segment_for(request, organization_id, ledger_id, segment_id)
    require(request, scope, Action.CHANGE)
    back = segment_url(segment, "rule")
    try:
        services.request_refresh(request.user, segment)
    except errors.EntityNotFound:
        message = gettext("This segment has no rule any more.")
        if not request.htmx:
            return refuse(request, message, fallback_url=back)
        return with_toast(_refresh_panel(request, segment, scope, status=422), message)
    if not request.htmx:
        return htmx_done(request, gettext("Refresh queued"), fallback_url=back)
    return with_toast(_refresh_panel(request, segment, scope), gettext("Refresh queued"), "success")
