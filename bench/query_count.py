"""``X-Query-Count``: how many SQL statements one request ran, on every database alias
(used by the benchmark only; enabled by ``bench.settings``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from django.db import connections
from django.http import HttpRequest, HttpResponse

QUERY_COUNT_HEADER = "X-Query-Count"


class QueryCountMiddleware:
    """Counts every statement sent through Django's cursors while the request is served,
    session and authentication lookups included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = 0

        def counting(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(counting))
            response = self.get_response(request)
        response[QUERY_COUNT_HEADER] = str(count)
        return response
