"""Changelists that stay fast on a million rows: a fixed number of queries whatever the
page, a bounded count (``admin.counting``), no facet counts, and a "filter by created at"
drill-down built from two index reads instead of Django's scan of every row's date. A
drill-down period's bounds come from ``filters.creation_window``, as the lists' date
filters do."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR, ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext

from segments.admin.counting import EstimatedCountPaginator
from segments.errors import DomainError
from segments.filters import creation_window


class QuickDatesChangeList(ChangeList):
    """A changelist whose "filter by created at" links span the first and last rows in id
    order (two index reads, or the paginator's count for a small result: ``_bounds``)
    instead of Django's scan of every row for its distinct dates, which takes seconds on a
    million rows. Ids follow creation time (UUIDv7, sequences), so no period with rows is
    left out; a link may lead to a period without rows."""

    def get_results(self, request: HttpRequest) -> None:
        """Django's, except that rows the paginator already read whole (a result of one
        page) are not read again."""
        super().get_results(request)
        rows = getattr(self.paginator, "first_page_rows", None)
        if rows is not None and not self.multi_page:
            self.result_list = rows

    def get_filters(self, request: HttpRequest) -> tuple:
        """Django's filters, except the drill-down's period (``created_at__year`` …): its
        bounds come from ``filters.creation_window``, as the lists' date filters do. Django
        ends a period where the next one begins, and the year 9999 has no next one."""
        hierarchy, self.date_hierarchy = self.date_hierarchy, None
        try:
            specs, has_filters, lookups, duplicates, active = super().get_filters(request)
        finally:
            self.date_hierarchy = hierarchy
        if hierarchy and f"{hierarchy}__year" in lookups:
            period = [lookups.pop(f"{hierarchy}__{part}", [None])[-1] for part in DRILL_PARTS]
            lookups |= _period_lookups(hierarchy, *period)
        return specs, has_filters, lookups, duplicates, active

    @cached_property
    def date_drilldown(self) -> dict[str, Any]:
        if not self.date_hierarchy:
            return {"show": False}
        name = self.date_hierarchy
        first, last = self._bounds(name)
        if first is None:
            return {"show": False}
        year = _int(self.params.get(f"{name}__year"))
        month = _int(self.params.get(f"{name}__month"))
        day = _int(self.params.get(f"{name}__day"))
        if not (year or month or day) and first.year == last.year:
            year = first.year
            month = first.month if first.month == last.month else None
        field = self.model._meta.get_field(name)

        def link(**lookups: int) -> str:
            params = {f"{name}__{part}": value for part, value in lookups.items()}
            return self.get_query_string(params, [f"{name}__"])

        if year and month and day:
            back, choices = _day_level(link, dt.date(year, month, day))
        elif year and month:
            back, choices = _month_level(link, first, last, year, month)
        elif year:
            back, choices = _year_level(link, first, last, year)
        else:
            back = None
            choices = [
                {"link": link(year=number), "title": str(number)}
                for number in range(first.year, last.year + 1)
            ]
        return {"show": True, "field_name": field.verbose_name, "back": back, "choices": choices}

    def _bounds(self, name: str) -> tuple[Any, Any]:
        """The first and last values of ``name`` among the listed rows. A result counted
        exactly (at most ``exact_limit`` rows: a search, a narrow filter) has them from the
        paginator's count, which aggregated them from the matching rows; reading the id
        index from each end would walk past every row that does not match, up to the whole
        table when the matches are few (a search over 1M accounts: 0.3 s per end). A large
        result (an estimated count) is dense in the id index: two short index reads."""
        counted = getattr(self.paginator, "bounds", None)
        if counted is not None and getattr(self.paginator, "bounds_field", None) == name:
            ends = list(counted)
        else:
            rows = self.queryset.values_list(name, flat=True)
            ends = [rows.order_by("pk").first(), rows.order_by("-pk").first()]
        if ends[0] is None or ends[1] is None:
            return None, None
        first, last = sorted(timezone.localtime(value) for value in ends)
        return first, last


DRILL_PARTS = ("year", "month", "day")
Link = Callable[..., str]


def _day_level(link: Link, date: dt.date) -> tuple[dict, list[dict]]:
    """A day chosen: back to its month, the day itself."""
    back = {
        "link": link(year=date.year, month=date.month),
        "title": capfirst(formats.date_format(date, "YEAR_MONTH_FORMAT")),
    }
    return back, [{"title": formats.date_format(date, "MONTH_DAY_FORMAT")}]


def _month_level(link: Link, first: Any, last: Any, year: int, month: int) -> tuple[dict, list]:
    """A month chosen: back to its year, its days from the first row's to the last's."""
    start = first.day if (first.year, first.month) == (year, month) else 1
    end = (
        last.day
        if (last.year, last.month) == (year, month)
        else calendar.monthrange(year, month)[1]
    )
    choices = [
        {
            "link": link(year=year, month=month, day=number),
            "title": formats.date_format(dt.date(year, month, number), "MONTH_DAY_FORMAT"),
        }
        for number in range(start, end + 1)
    ]
    return {"link": link(year=year), "title": str(year)}, choices


def _year_level(link: Link, first: Any, last: Any, year: int) -> tuple[dict, list]:
    """A year chosen: back to all dates, its months from the first row's to the last's."""
    start = first.month if first.year == year else 1
    end = last.month if last.year == year else 12
    choices = [
        {
            "link": link(year=year, month=number),
            "title": capfirst(formats.date_format(dt.date(year, number, 1), "YEAR_MONTH_FORMAT")),
        }
        for number in range(start, end + 1)
    ]
    return {"link": link(), "title": gettext("All dates")}, choices


def _period_lookups(name: str, year: Any, month: Any, day: Any) -> dict[str, list]:
    """The ``__gte`` / ``__lt`` lookups of a drill-down period (a year, a month or a day),
    or IncorrectLookupParameters (Django's "bad filter" answer) for one that is no date."""
    try:
        first = dt.date(int(year), int(month or 1), int(day or 1))
        if day:
            last = first
        elif month:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        else:
            last = first.replace(month=12, day=31)
        start, before = creation_window(first.isoformat(), last.isoformat())
    except (TypeError, ValueError, DomainError) as error:
        raise IncorrectLookupParameters(error) from error
    lookups = {f"{name}__gte": [start]}
    if before is not None:
        lookups[f"{name}__lt"] = [before]
    return lookups


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class BigTableMixin:
    """Changelists that stay fast on a million rows: a fixed number of queries, a count
    bounded by ``LIMIT`` (then an estimate), no unfiltered second count, no facet counts,
    and the quick date drill-down."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = "created_at"
    ordering = ("-pk",)  # ids are time-ordered (UUIDv7, sequences): newest first, from the pk index
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QuickDatesChangeList

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet, per_page: int, *args: Any, **kwargs: Any
    ) -> Paginator:
        paginator = super().get_paginator(request, queryset, per_page, *args, **kwargs)
        if isinstance(paginator, EstimatedCountPaginator):
            paginator.bounds_field = self.date_hierarchy
            match = getattr(request, "resolver_match", None)
            paginator.reads_first_page = (
                bool(match and match.url_name and match.url_name.endswith("_changelist"))
                and request.GET.get(PAGE_VAR, "1") == "1"
                and ALL_VAR not in request.GET
            )
        return paginator
