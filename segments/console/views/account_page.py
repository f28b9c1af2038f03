"""An account's page: its facts, **What this account gets** — the effective benefits
(``segments.effective_benefits``, the same function as ``GET …/accounts/{id}/benefits``)
at now or at the instant asked, with the ones that do not apply and why — and **Why is
this account in this segment?** (``services.explanation.explain_account``, the same as
``GET …/accounts/{id}/segment-explanation``): pinned or not, and each dynamic segment's
rule with its clauses' values and the segment it lost to."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from segments import errors, selectors
from segments.console.benefit_words import KIND_LABELS, parameters_in_words, window_in_words
from segments.console.presenters import status_label
from segments.console.rule_words import explanation_rows
from segments.console.views.htmx import render_page
from segments.console.views.ledgers import ledger_context
from segments.console.views.scope import benefit_url, console_view, resolve_scope, segment_url
from segments.effective_benefits import BenefitAt, Effective, NotApplied, effective_benefits
from segments.filters import parse_instant
from segments.models import Account, Segment
from segments.services.explanation import explain_account


def reason_text(missed: NotApplied, names: dict[str, str]) -> str:
    """Why a benefit does not apply, in words (``names``: benefit id → name)."""
    candidate = missed.benefit
    if missed.reason == "expired":
        return gettext("Expired: %(window)s") % {
            "window": window_in_words(candidate.valid_from, candidate.valid_until)
        }
    if missed.reason == "notYetValid":
        return gettext("Not valid yet: %(window)s") % {
            "window": window_in_words(candidate.valid_from, candidate.valid_until)
        }
    if missed.reason == "inactive":
        return gettext("Inactive")
    winner = missed.reason.removeprefix("outrankedBy:")
    return gettext("Outranked by “%(name)s” in group %(group)s (lower priority wins)") % {
        "name": names.get(winner, winner),
        "group": candidate.exclusivity_group,
    }


def _read_at(request: HttpRequest) -> tuple[dt.datetime | None, str]:
    """The instant asked (``?at=``, UTC), or None for now; a bad one is its message."""
    raw = request.GET.get("at", "").strip()
    if not raw:
        return None, ""
    try:
        at = parse_instant(raw, "at")
    except errors.DomainError:
        return None, gettext("Enter a date and time, e.g. 2026-12-01T09:30.")
    return at, ""


def _entry(candidate: BenefitAt, segment: Segment) -> dict[str, Any]:
    """A benefit as it was at the instant asked: its name and link, kind, grant, window."""
    benefit = candidate.benefit
    benefit.segment = segment  # every candidate is of the answer's segment
    return {
        "benefit": benefit,
        "url": benefit_url(benefit),
        "kind_label": KIND_LABELS.get(candidate.kind, candidate.kind),
        "grants": parameters_in_words(candidate.kind, candidate.parameters),
        "window": window_in_words(candidate.valid_from, candidate.valid_until),
    }


def gets(answer: Effective) -> dict[str, Any]:
    """The effective answer as the page shows it, each benefit as of its version then."""
    if answer.segment is None:
        return {"applied": [], "not_applied": []}
    names = {str(c.pk): c.benefit.name for c in answer.items}
    names |= {str(m.benefit.pk): m.benefit.benefit.name for m in answer.not_applied}
    missed = [
        _entry(m.benefit, answer.segment)
        | {"reason": m.reason.split(":")[0], "why": reason_text(m, names)}
        for m in answer.not_applied
    ]
    return {"applied": [_entry(c, answer.segment) for c in answer.items], "not_applied": missed}


def why_in_segment(account: Account) -> dict[str, Any]:
    """The section "Why is this account in this segment?": ``services.explanation.explain_account``
    (one query for the rules) and the links of the segments it names (one more, whatever
    their number)."""
    explanation = explain_account(account)
    ids = {c["segmentId"] for c in explanation["candidates"]}
    segments = list(
        Segment.objects.filter(pk__in=ids).only("pk", "name", "organization_id", "ledger_id")
    )
    if account.segment is not None:
        segments.append(account.segment)
    links = {str(segment.pk): segment_url(segment) for segment in segments}
    names = {str(segment.pk): segment.name for segment in segments}
    return {
        "explanation": explanation,
        "candidates": explanation_rows(explanation, links, names),
        "own_segment_url": links.get(explanation["segmentId"] or ""),
    }


@console_view
@require_safe
def account_page(request: HttpRequest, organization_id, ledger_id, account_id) -> HttpResponse:
    """The account's facts and what it gets at now (or ``?at=``), and why the rest of
    its segment's benefits do not apply."""
    scope = resolve_scope(request, organization_id, ledger_id)
    account = selectors.get_account(request.user, organization_id, ledger_id, pk=account_id)
    at, at_error = _read_at(request)
    [answer] = effective_benefits([account], at)
    context = ledger_context(request, scope, "accounts")
    accounts_url = reverse("console:ledger_accounts", kwargs=scope.kwargs)
    context["breadcrumb"] = [*context["breadcrumb"][:-1], (gettext("Accounts"), accounts_url)]
    context["breadcrumb"].append((account.name or account.alias or str(account.pk), None))
    context |= {
        "account": account,
        "status_label": status_label(account.status_code),
        "answer": answer,
        "segment_link": segment_url(answer.segment) if answer.segment else None,
        "at_value": request.GET.get("at", ""),
        "at_error": at_error,
        "page_url": reverse("console:account", kwargs={**scope.kwargs, "account_id": account.pk}),
        "edit_url": reverse(
            "console:account_edit", kwargs={**scope.kwargs, "account_id": account.pk}
        ),
        **gets(answer),
        **why_in_segment(account),
    }
    return render_page(request, "console/ledger/account.html", context, {"account-gets": "gets"})
