"""A console list's state and its pages. Everything a list shows comes from its URL (the
filters, the sort, the page and its size), read once by ``list_state``; a page is Django's
``Paginator`` page of the list's selector, with the page links around it
(``get_elided_page_range``). A filter the selectors refuse shows an empty list and the
reason above it, never an error page; a page past the end (its last row was deleted)
shows the last page, and the address bar is corrected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext

from segments import errors, selectors
from segments.console.views.htmx import render_page

LIST_LIMITS = (10, 50, 100)


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


# --------------------------------------------------------------------------- pages


class ListPage(Page):
    """A page of a console list, with the links the pager shows."""

    @property
    def numbers(self) -> list[int | str]:
        """Page links around the current one: 1 … 4 5 [6] 7 8 … 20 (``paginator.ELLIPSIS``
        stands for a gap)."""
        return list(self.paginator.get_elided_page_range(self.number, on_each_side=2, on_ends=1))

    @property
    def previous_number(self) -> int | None:
        return self.previous_page_number() if self.has_previous() else None

    @property
    def next_number(self) -> int | None:
        return self.next_page_number() if self.has_next() else None


class ListPaginator(Paginator):
    """Django's ``Paginator`` over a selector's queryset, reading the first page before
    counting: a first page that is not full holds the whole list, so a short list costs
    one query. Counts leave the order out (the count does not need it)."""

    known_count: int | None = None

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        if isinstance(self.object_list, QuerySet):
            return self.object_list.order_by().count()
        return len(self.object_list)

    def get_page(self, number: Any) -> Page:
        """Page ``number`` (a number past the end gives the last page, as Django's)."""
        if number != 1:
            return super().get_page(number)
        rows = list(self.object_list[: self.per_page])
        if len(rows) < self.per_page:
            self.known_count = len(rows)
        return self._get_page(rows, 1, self)

    def _get_page(self, *args: Any, **kwargs: Any) -> ListPage:
        return ListPage(*args, **kwargs)


def paginate_or_error(
    queryset_factory: Callable[[], Any], params: dict[str, str]
) -> tuple[Page, str]:
    """One page of the list (``page`` and ``limit`` as ``selectors.page_params`` reads
    them), or an empty page and the reason the filters were refused."""
    try:
        queryset = queryset_factory()
        number, limit = selectors.page_params(params)
        return ListPaginator(queryset, limit).get_page(number), ""
    except errors.DomainError as exc:
        return ListPaginator([], selectors.DEFAULT_LIMIT).get_page(1), filter_error(exc)


def filter_error(exc: errors.DomainError) -> str:
    """The message above a list (or a picker's search) whose filters were refused."""
    if isinstance(exc, errors.InvalidDateRange):
        return gettext("The date range is not valid: the start may not be after the end.")
    if isinstance(exc, errors.LimitTooLarge):
        return gettext("Show at most 100 rows per page.")
    return gettext("A filter value is not valid (%(detail)s).") % {"detail": exc.message}


def replace_url_if_moved(request: HttpRequest, response: HttpResponse, page: Page) -> None:
    """When a refresh landed on another page than asked (it became empty), correct the
    address bar."""
    asked = request.GET.get("page")
    if request.htmx and asked and asked != str(page.number):
        query = request.GET.copy()
        query["page"] = str(page.number)
        response["HX-Replace-Url"] = f"{request.path}?{query.urlencode()}"


def render_list_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    partials: Mapping[str, str],
    page: Page,
) -> HttpResponse:
    """``render_page`` of a page that shows ``page`` of a list, the address bar corrected
    when a refresh landed on another page (``replace_url_if_moved``)."""
    response = render_page(request, template, context, partials)
    replace_url_if_moved(request, response, page)
    return response
