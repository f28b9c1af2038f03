"""Request id: every response carries ``X-Request-Id`` (the client's, if it sent a sane
one, else a new one), and every log line written while serving the request names it."""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

REQUEST_ID_HEADER = "X-Request-Id"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default="-"
)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _ACCEPTABLE_ID.match(offered) else str(uuid.uuid4())
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


request_logger = logging.getLogger("segments.requests")


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
                    "route": match.route if match else None,
                    "user": user.get_username() if user and user.is_authenticated else None,
                    "organization": str(kwargs.get("organization_id") or "") or None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
                separators=(",", ":"),
            )
        )
        return response


def _api_problem(request: HttpRequest, error, status_headers: dict[str, str]) -> HttpResponse:
    from segments.api.errors import (
        PROTOCOL_ERRORS,
        Problem,
        problem_from_domain_error,
        problem_response,
    )

    if isinstance(error, str):
        protocol = PROTOCOL_ERRORS[error]
        problem = Problem(
            protocol.http_status, protocol.code, protocol.title, protocol.default_message
        )
    else:
        problem = problem_from_domain_error(error)
    return problem_response(request, problem, status_headers)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/")


class BodySizeLimitMiddleware:
    """A request whose declared body is larger than ``MAX_REQUEST_BODY_BYTES`` is answered
    413 before anything reads it (a problem document under ``/v1/``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.MAX_REQUEST_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            if _is_api(request):
                return _api_problem(request, "413", {})
            return HttpResponse(
                "Request body too large.", status=413, content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


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
        from segments import errors

        error = errors.database_error(exception)
        if error is None:
            return None
        if isinstance(error, errors.ConcurrentChange):
            # A lost race for locks is no outage: 409, the client retries (9009).
            logging.getLogger("segments.requests").warning("lock conflict: %s", exception)
            if _is_api(request):
                return _api_problem(request, error, {})
            return HttpResponse(error.message, status=409, content_type="text/plain; charset=utf-8")
        logging.getLogger("segments.requests").warning("database unavailable: %s", exception)
        if _is_api(request):
            return _api_problem(request, errors.ServiceUnavailable(), {"Retry-After": "5"})
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "5"
        return response
