"""The one way API lists are paged: ``page``/``limit`` (offset) with the exact total in
``X-Total-Count``, and, where a list offers it (``AccountPagination``), the keyset
``cursor`` of ``selectors.paginate_by_cursor``.

A body is ``{"items": [...], "page": n, "limit": n}``; a cursor page adds ``next_cursor``
/ ``prev_cursor`` when there is more that way and has no ``page`` once a cursor is
followed. ``limit`` is 1–100 (above: 0080), ``page`` 1–1,000,000 (0082); the rules and
their errors are ``selectors.page_params``. A total the caller already knows (a segment's
member counter) is not counted again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from segments import selectors

TOTAL_COUNT_HEADER = "X-Total-Count"


LIMIT = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": selectors.MAX_LIMIT, "default": 10},
    description=f"Items per page, 1–{selectors.MAX_LIMIT} (above {selectors.MAX_LIMIT}: 0080).",
)
PAGE = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1, "maximum": selectors.MAX_PAGE, "default": 1},
    description="Page, from 1.",
)
CURSOR = OpenApiParameter(
    "cursor",
    {"type": "string"},
    description="Keyset paging: a `next_cursor` or `prev_cursor` from a response. Cursor "
    "pages are in creation order; a list with another `sort` is paged by `page` and offers "
    "no cursor (a cursor with it is 0082).",
)
PAGE_PARAMETERS = [LIMIT, PAGE]


def as_query_parameter(parameter: OpenApiParameter) -> dict[str, Any]:
    """The OpenAPI parameter object of a query ``OpenApiParameter``."""
    return build_parameter_type(
        name=parameter.name,
        schema=parameter.type,
        location=OpenApiParameter.QUERY,
        description=parameter.description,
    )


class EntityPagination(BasePagination):
    """Pages by number, with the exact total (two queries, one when the first page holds
    the whole list or the total is known)."""

    offers_cursor = False

    def paginate_queryset(
        self,
        queryset: QuerySet,
        request: Request,
        view: Any = None,
        *,
        total: int | None = None,
    ) -> list:
        params = request.query_params
        self.body: dict[str, Any] = {}
        if self.offers_cursor and self._by_cursor(params):
            return self._cursor_page(queryset, params)
        page = selectors.paginate(queryset, params, total)
        self.body = {"page": page.page, "limit": page.limit}
        self.total = page.total
        return page.items

    def _by_cursor(self, params: Any) -> bool:
        """The first page and every ``cursor`` page go by keyset; a numbered page after
        the first, or a ``sort`` other than creation order, goes by offset."""
        page_number, _ = selectors.page_params(params)
        if not selectors.cursor_paging(params):
            return False
        return page_number == 1 or bool(params.get("cursor"))

    def _cursor_page(self, queryset: QuerySet, params: Any) -> list:
        page = selectors.paginate_by_cursor(queryset, params)
        following = bool(params.get("cursor"))
        self.body = {} if following else {"page": 1}
        self.body["limit"] = page.limit
        if page.next_cursor:
            self.body["next_cursor"] = page.next_cursor
        if page.prev_cursor:
            self.body["prev_cursor"] = page.prev_cursor
        if not following and not page.next_cursor:
            self.total = len(page.items)  # the whole list fits in this first page
        else:
            self.total = queryset.order_by().count()
        return page.items

    def get_paginated_response(self, data: Sequence[Any]) -> Response:
        return Response({"items": data, **self.body}, headers={TOTAL_COUNT_HEADER: str(self.total)})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "items": schema,
            "page": {"type": "integer"},
            "limit": {"type": "integer"},
        }
        required = ["items", "page", "limit"]
        if self.offers_cursor:
            properties["next_cursor"] = {
                "type": "string",
                "description": "Follow with ?cursor= for the next page.",
            }
            properties["prev_cursor"] = {
                "type": "string",
                "description": "Follow with ?cursor= for the previous page.",
            }
            required.remove("page")
        return {"type": "object", "properties": properties, "required": required}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = [*PAGE_PARAMETERS, *([CURSOR] if self.offers_cursor else [])]
        return [as_query_parameter(parameter) for parameter in parameters]


class AccountPagination(EntityPagination):
    """Accounts also page by keyset: stable under inserts, as fast deep as on page 1."""

    offers_cursor = True
