"""What every console view shares: the tenancy scope of a page, turning domain errors
into HTTP answers, choosing between the full page and one of its partials, and the
htmx response headers that tell the page what happened."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext

from segments import errors, selectors, tenancy
from segments.console.presenters import status_label
from segments.models import Ledger, Organization, Segment
from segments.selectors import Page
from segments.tenancy import Action
from segments.validators import metadata_value_text

LIST_LIMITS = (10, 50, 100)


# --------------------------------------------------------------------------- scope


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


def segment_url(segment: Segment, action: str = "") -> str:
    """The console URL of a segment page or action (``action``: '', 'members',
    'members_add', 'members_remove', 'history', 'edit', 'delete'), at its own level."""
    prefix = "org_" if segment.ledger_id is None else ""
    name = f"console:{prefix}segment" + (f"_{action}" if action else "")
    kwargs: dict[str, Any] = {"organization_id": segment.organization_id, "segment_id": segment.pk}
    if segment.ledger_id is not None:
        kwargs["ledger_id"] = segment.ledger_id
    return reverse(name, kwargs=kwargs)


# --------------------------------------------------------------------------- errors → HTTP


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


# --------------------------------------------------------------------------- rendering


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


def attach_segment_urls(segments: list[Segment]) -> list[Segment]:
    """Give each row the URLs of its pages and actions (no query)."""
    for segment in segments:
        segment.urls = {
            "detail": segment_url(segment),
            "members": segment_url(segment, "members"),
            "edit": segment_url(segment, "edit"),
            "delete": segment_url(segment, "delete"),
        }
        segment.status_label = status_label(segment.status_code)
        segment.metadata_items = [
            (key, metadata_value_text(value)) for key, value in (segment.metadata or {}).items()
        ]
    return segments


# --------------------------------------------------------------------------- list state


@dataclass
class ListState:
    """A list's state, all of it from the URL: the selector parameters, what the header
    links and the empty state need to know."""

    params: dict[str, str]
    sort: str
    sort_order: str
    limit: int
    has_filters: bool
    filters: dict[str, str] = field(default_factory=dict)


def list_state(
    query: QueryDict,
    filter_names: tuple[str, ...],
    *,
    default_sort: str = "created",
    default_order: str = "desc",
) -> ListState:
    """Read a list's query string; its ``from``/``to`` dates as ``date_window_params``."""
    filters = {name: query.get(name, "").strip() for name in filter_names}
    filters = {name: value for name, value in filters.items() if value}
    params = {name: value for name, value in filters.items() if name not in ("from", "to")}
    params |= date_window_params(filters)
    sort = query.get("sort") or default_sort
    sort_order = query.get("sort_order") or default_order
    limit = query.get("limit") or str(LIST_LIMITS[0])
    params |= {
        "sort": sort,
        "sort_order": sort_order,
        "limit": limit,
        "page": query.get("page", "1"),
    }
    try:
        limit_value = int(limit)
    except ValueError:
        limit_value = LIST_LIMITS[0]
    return ListState(params, sort, sort_order, limit_value, bool(filters), filters)


def date_window_params(query: Mapping[str, str]) -> dict[str, str]:
    """The filters' ``start_date``/``end_date`` of the console's ``from``/``to`` dates, a
    missing side filled in (from the calendar's first day / up to today); none without
    either. The Export links carry ``from``/``to`` too, so the files read them here."""
    start, end = (query.get("from") or "").strip(), (query.get("to") or "").strip()
    if not start and not end:
        return {}
    start = start or "0001-01-01"
    return {"start_date": start, "end_date": end or max(timezone.now().date().isoformat(), start)}


def paginate_or_error(
    queryset_factory: Callable[[], Any], params: dict[str, str]
) -> tuple[Page, str]:
    """One page of the list, or an empty page and the reason the filters were refused.
    A page past the end (the last row of the page was deleted) shows the last page."""
    try:
        page = selectors.paginate(queryset_factory(), params)
        if not page.items and page.page > 1 and page.total:
            page = selectors.paginate(queryset_factory(), params | {"page": str(page.page_count)})
        return page, ""
    except errors.DomainError as exc:
        return Page(items=[], page=1, limit=selectors.DEFAULT_LIMIT, total=0), filter_error(exc)


def filter_error(exc: errors.DomainError) -> str:
    if isinstance(exc, errors.InvalidDateRange):
        return gettext("The date range is not valid: the start may not be after the end.")
    if isinstance(exc, errors.LimitTooLarge):
        return gettext("Show at most 100 rows per page.")
    return gettext("A filter value is not valid (%(detail)s).") % {"detail": exc.message}


def page_numbers(page: Page) -> list[int | None]:
    """Page links around the current one: 1 … 4 5 [6] 7 8 … 20 (None is a gap)."""
    wanted = {1, page.page_count, *range(page.page - 2, page.page + 3)}
    numbers = sorted(n for n in wanted if 1 <= n <= page.page_count)
    shown: list[int | None] = []
    for number in numbers:
        if shown and number - (shown[-1] or 0) > 1:
            shown.append(None)
        shown.append(number)
    return shown


def replace_url_if_moved(request: HttpRequest, response: HttpResponse, page: Page) -> None:
    """When a refresh landed on another page than asked (it became empty), correct the
    address bar."""
    asked = request.GET.get("page")
    if request.htmx and asked and asked != str(page.page):
        query = request.GET.copy()
        query["page"] = str(page.page)
        response["HX-Replace-Url"] = f"{request.path}?{query.urlencode()}"
