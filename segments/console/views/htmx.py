"""How a console view answers: the whole page or, for an htmx request aimed at one of
its parts, only that partial of the same template; and the response headers that tell
the page what happened (``HX-Trigger`` for the lists to refresh, the toast and the dialog
closing). Without JavaScript every answer is a page or a redirect, the toast shown on the
next page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers


def render_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    partials: Mapping[str, str],
    *,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or — for an htmx request aimed at one of ``partials``' targets
    (element id → partial name) — only that partial of the same template."""
    context = dict(context)
    target = (
        request.htmx.target if request.htmx and not request.htmx.history_restore_request else None
    )
    partial = partials.get(target or "")
    if partial:
        template = f"{template}#{partial}"
        context |= {"partial": partial, "oob": True}
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def htmx_done(
    request: HttpRequest,
    message: str,
    *,
    fallback_url: str,
    events: tuple[str, ...] = (),
    redirect_to: str | None = None,
) -> HttpResponse:
    """A finished write. For htmx: 204 with ``HX-Trigger`` (the events that refresh the
    page's lists, the toast and the dialog closing), or ``HX-Redirect`` when the page the
    user was on is gone. Without JavaScript: a redirect, the toast shown on the next page."""
    if not request.htmx or redirect_to:
        messages.success(request, message)
        if not request.htmx:
            return redirect(redirect_to or fallback_url)
        response = HttpResponse(status=204)
        response["HX-Redirect"] = redirect_to
        return response
    response = HttpResponse(status=204)
    # Order matters: the events bubble from the element that made the request, which
    # leaves the page when the dialog closes — so closing comes last.
    triggers: dict[str, Any] = dict.fromkeys(events, True)
    triggers["toast"] = {"message": str(message), "level": "success"}
    triggers["close-dialog"] = True
    response["HX-Trigger"] = json.dumps(triggers, cls=DjangoJSONEncoder)
    return response


def refuse(request: HttpRequest, message: str, *, fallback_url: str) -> HttpResponse:
    """A refused action that has no form to show it in: a toast (htmx, 422, nothing
    swapped) or, without JavaScript, a message on the page redirected to."""
    if not request.htmx:
        messages.error(request, message)
        return redirect(fallback_url)
    return with_toast(HttpResponse(status=422), message)


def with_toast(response: HttpResponse, message: str | None, level: str = "error") -> HttpResponse:
    """Add a toast to a response that also swaps content (a form's non-field error)."""
    if message:
        response["HX-Trigger"] = json.dumps({"toast": {"message": str(message), "level": level}})
    return response
