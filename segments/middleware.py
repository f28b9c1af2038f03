"""The middleware of every request (request id aside: ``segments.request_id``): one
structured log line per request, the body size limit (413) and the database outage answer
(503, or 409 ``9009`` for a lost race for locks). Under ``/v1/`` each refusal is the API's
problem document, sent by ``segments.api.problems``."""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from segments import errors
from segments.api.problems import (
    is_api_request,
    problem_from_domain_error,
    problem_response,
    protocol_problem,
)

request_logger = logging.getLogger("segments.requests")


ROUTER_GROUP = re.compile(r"\(\?P<(\w+)>(\[\^/\]\+|\.\+)\)")


def route_label(route: str) -> str:
    """A route as the URL conf's ``path()`` spells it, also for the API router's regex
    routes: ``v1/organizations/(?P<organization_id>[^/]+)/ledgers$`` →
    ``v1/organizations/<str:organization_id>/ledgers``."""

    def converter(match: re.Match) -> str:
        kind = "str" if match.group(2) == "[^/]+" else "path"
        return f"<{kind}:{match.group(1)}>"

    return ROUTER_GROUP.sub(converter, route).replace("^", "").removesuffix("$")


class RequestLogMiddleware:
    """One structured line per request: request id, method, path, user, organization,
    status and duration. Headers, bodies and query strings are never logged (tokens and
    personal data stay out of the logs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        kwargs = match.kwargs if match else {}
        user = getattr(request, "user", None)
        request_logger.info(
            json.dumps(
                {
                    "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
                    "event": "request",
                    "request_id": getattr(request, "request_id", "-"),
                    "method": request.method,
                    "path": request.path,
                    "route": route_label(match.route) if match else None,
                    "user": user.get_username() if user and user.is_authenticated else None,
                    "organization": str(kwargs.get("organization_id") or "") or None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
                separators=(",", ":"),
            )
        )
        return response


class BodySizeLimitMiddleware:
    """A request whose declared body is larger than ``MAX_REQUEST_BODY_BYTES`` is answered
    413 before anything parses it (a problem document under ``/v1/``).

    The refused body is read and thrown away first, up to ``MAX_DRAINED_BODY_BYTES``: a
    client (a browser uploading a large CSV, an SDK) writes its whole body before it reads
    the answer, and a server that closes with unread bytes in its socket resets the
    connection, so the client sees a broken pipe instead of the 413. A body beyond that
    bound is not worth reading (nor is one whose client stops sending)."""

    CHUNK_BYTES = 64 * 1024

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.MAX_REQUEST_BODY_BYTES
        self.drain_limit = settings.MAX_DRAINED_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared <= self.limit:
            return self.get_response(request)
        if declared <= self.drain_limit:
            self._drain(request, declared)
        if is_api_request(request):
            response = problem_response(request, protocol_problem("413"))
        else:
            response = HttpResponse(
                "Request body too large.", status=413, content_type="text/plain; charset=utf-8"
            )
        return response

    def _drain(self, request: HttpRequest, declared: int) -> None:
        """Read and discard the declared body, until it ends or the client stops."""
        stream = request.META.get("wsgi.input")
        left = declared if stream is not None else 0
        try:
            while left > 0:
                chunk = stream.read(min(self.CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
        except OSError:
            return


class DatabaseUnavailableMiddleware:
    """While the database cannot be reached, answer 503 (a problem document under
    ``/v1/``, a short page elsewhere) with ``Retry-After``, instead of a 500. A deadlock or
    serialization failure is not an outage: 409 ``9009`` (``errors.database_error``).
    Nothing was changed: the failed transaction never committed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        error = errors.database_error(exception)
        if error is None:
            return None
        if isinstance(error, errors.ConcurrentChange):
            # A lost race for locks is no outage: 409, the client retries (9009).
            logging.getLogger("segments.requests").warning("lock conflict: %s", exception)
            if is_api_request(request):
                return problem_response(request, problem_from_domain_error(error))
            return HttpResponse(error.message, status=409, content_type="text/plain; charset=utf-8")
        logging.getLogger("segments.requests").warning("database unavailable: %s", exception)
        if is_api_request(request):
            problem = problem_from_domain_error(errors.ServiceUnavailable())
            return problem_response(request, problem, {"Retry-After": "5"})
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "5"
        return response
