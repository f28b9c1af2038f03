"""How a changelist counts its rows: exactly up to a bound, then by PostgreSQL's planner
estimate, so that a changelist of a million rows never scans the table to print its size;
a first page that holds every match is its own count."""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, Max, Min, QuerySet
from django.utils.functional import cached_property


def planner_estimate(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns, or None elsewhere."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    if isinstance(plan, list):
        plan = plan[0]
    return int(plan["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to ``exact_limit`` rows (a count bounded by ``LIMIT``) and, past
    that, takes PostgreSQL's planner estimate: a changelist of a million accounts never
    scans the table just to print its size. ``count_is_estimate`` tells which it did.

    With ``bounds_field`` set (the changelist's date drill-down field), the same bounded
    query also reads that field's first and last values, kept in ``bounds`` when the count
    is exact: a search's matches are found once, not once more for the drill-down.

    With ``reads_first_page`` (a changelist asked for its first page), the first page is
    read before anything is counted: when it holds every row (a search for an alias, an
    id, a holder), that one query is the count, the dates and the page; otherwise it is
    the page, and the bounded count follows."""

    exact_limit = 10_000
    count_is_estimate = False
    bounds_field: str | None = None
    bounds: tuple[Any, Any] | None = None
    reads_first_page = False
    first_page_rows: list | None = None

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        field = self.bounds_field
        if self.reads_first_page:
            rows = list(queryset[: self.per_page + 1])
            self.first_page_rows = rows[: self.per_page]
            if len(rows) <= self.per_page:
                if field:
                    values = [getattr(row, field) for row in rows]
                    self.bounds = (min(values), max(values)) if values else (None, None)
                return len(rows)
        if field:
            rows = queryset.order_by().values("pk", field)[: self.exact_limit]
            totals = rows.aggregate(count=Count("pk"), first=Min(field), last=Max(field))
            bounded = totals["count"]
        else:
            bounded = queryset.order_by().values("pk")[: self.exact_limit].count()
        if bounded < self.exact_limit:
            if field:
                self.bounds = (totals["first"], totals["last"])
            return bounded
        estimate = planner_estimate(queryset)
        if estimate is None:
            return queryset.order_by().count()
        self.count_is_estimate = True
        return max(estimate, self.exact_limit)

    def page(self, number: Any) -> Any:
        """Page 1 from the rows ``count`` already read, when it read them."""
        number = self.validate_number(number)
        if number == 1 and self.first_page_rows is not None:
            return self._get_page(self.first_page_rows, 1, self)
        return super().page(number)
