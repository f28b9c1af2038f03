"""One error body for the whole API: an RFC 9457 problem document that clients of both
Midaz API generations read.

Every failure under ``/v1/`` — a domain error raised by a service, a malformed body, a
refused credential, a throttled client, an unrouted URL, a crash — becomes::

    {"type": "https://host/v1/errors/0053", "title": "...", "status": 400, "detail": "...",
     "message": "...", "code": "0053", "entityType": "Segment",
     "errors": [{"location": "foo", "message": "unexpected field", "value": "bar"}],
     "fields": {"foo": "unexpected field"}}

served as ``application/problem+json`` — or as ``application/json`` to a client whose
``Accept`` names ``application/json`` and not ``application/problem+json`` (clients that
parse only JSON, such as Midaz's TypeScript SDK), with ``Vary: Accept``. ``type`` is the
absolute URL of our page for the code, built from the request's scheme and host (Midaz's
schema says ``format: uri``). ``message`` repeats ``detail`` (Midaz v3), ``fields``
repeats ``errors`` as a map (Midaz v3); ``entityType``, ``errors`` and ``fields`` appear
only where they apply. A 5xx says only "internal error" and the request id to quote; the
exception goes to the log, never to the client. ``problem_response`` is the one function
that answers a problem, whichever layer (DRF view, URL resolver, middleware, the site's
``handler404``/``handler500``) refused; ``is_api_request`` is the one test of whether a
request is the API's.

Field names in the body are the API's (camelCase): the services name the model fields
(``segment_id``, ``status_code``) and ``api_field_name`` translates them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_noop
from rest_framework import exceptions as drf
from rest_framework.views import set_rollback

from segments import errors
from segments.api.renderers import PROBLEM_CONTENT_TYPE, FastJSONRenderer, accepted_media_types
from segments.request_id import current_request_id

logger = logging.getLogger("segments.api")
_RENDERER = FastJSONRenderer()

JSON_CONTENT_TYPE = "application/json"
API_PREFIX = "/v1/"


def is_api_request(request: HttpRequest) -> bool:
    """Whether ``request`` is the API's (``/v1`` or under ``/v1/``): its errors then answer a
    problem document, wherever they are refused (view, URL resolver, middleware)."""
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


@dataclass(frozen=True)
class ProtocolError:
    """An HTTP-level failure that has no Midaz code: its code is the HTTP status."""

    code: str
    http_status: int
    title: str
    default_message: str


PROTOCOL_ERRORS: dict[str, ProtocolError] = {
    error.code: error
    for error in (
        ProtocolError(
            "405",
            405,
            gettext_noop("Method Not Allowed"),
            "This route does not accept this HTTP method.",
        ),
        ProtocolError(
            "406",
            406,
            gettext_noop("Not Acceptable"),
            "The API answers only application/json responses.",
        ),
        ProtocolError(
            "413",
            413,
            gettext_noop("Content Too Large"),
            "The request body is larger than the server accepts.",
        ),
        ProtocolError(
            "415",
            415,
            gettext_noop("Unsupported Media Type"),
            "Request bodies must be sent as application/json.",
        ),
    )
}

# The fields whose API name is not simply the camelCase of the model field.
_FIELD_NAMES = {
    "status_code": "status.code",
    "status_description": "status.description",
    "__all__": "body",
    "non_field_errors": "body",
}


def api_field_name(name: str) -> str:
    """The API (camelCase) name of a field named by a service or a model; API names pass
    through unchanged (``segment_id`` → ``segmentId``, ``accountIds`` → ``accountIds``)."""
    if name in _FIELD_NAMES:
        return _FIELD_NAMES[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def problem_type(request: HttpRequest, code: str) -> str:
    """A problem's ``type``: the absolute URL of the page that explains ``code``
    (``https://host/v1/errors/0007``), with the request's scheme and host."""
    return request.build_absolute_uri(reverse("api:error-code", args=[code]))


def problem_content_type(request: HttpRequest) -> str:
    """``application/json`` when the request's ``Accept`` names ``application/json`` and
    not ``application/problem+json`` (clients that parse only JSON bodies), otherwise
    ``application/problem+json``. The body is the same (RFC 9457 allows both)."""
    named = accepted_media_types(request.headers.get("Accept", ""))
    if JSON_CONTENT_TYPE in named and PROBLEM_CONTENT_TYPE not in named:
        return JSON_CONTENT_TYPE
    return PROBLEM_CONTENT_TYPE


def problem_title(request: HttpRequest, title: str) -> str:
    """A problem's ``title`` in the request's language: the English title (``gettext_noop``
    where the error is defined, as the OpenAPI document and ``/v1/errors`` show it)
    translated for a request whose ``Accept-Language`` asks for Portuguese. The language is
    the one ``LocaleMiddleware`` chose, or, for an answer given before it ran (a body too
    large), the one it would choose: never the language of an earlier request."""
    language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language_from_request(
        request
    )
    with translation.override(language):
        return translation.gettext(title)


@dataclass
class Problem:
    """What an error body says, before it is rendered."""

    status: int
    code: str
    title: str
    detail: str
    entity_type: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None

    def as_body(self, request: HttpRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(request, self.code),
            "title": problem_title(request, self.title),
            "status": self.status,
            "detail": self.detail,
            "message": self.detail,
            "code": self.code,
        }
        if self.entity_type:
            body["entityType"] = self.entity_type
        if self.fields:
            body["errors"] = [
                {"location": name, "message": message}
                | ({"value": self.values[name]} if name in self.values else {})
                for name, message in self.fields.items()
            ]
            body["fields"] = dict(self.fields)
        if self.request_id:
            body["requestId"] = self.request_id
        return body


def problem_from_domain_error(error: errors.DomainError) -> Problem:
    """A domain error as the API shows it: its code, status and title, its message, and
    its fields under their API names. Missing (0009) and unexpected (0053) fields are
    listed by their API names in the message as well. A 500 says only "internal error"
    and the request id; another 5xx (503) keeps its message and adds the request id."""
    if error.http_status == 500:
        return internal_error_problem()
    # Query parameters and body paths are named as the client sent them: no translation.
    name_of = (lambda name: name) if error.fields_named_as_sent else api_field_name
    fields = {name_of(name): message for name, message in error.fields.items()}
    values = {
        name_of(name): value for name, value in error.values.items() if name_of(name) in fields
    }
    detail = error.message
    if isinstance(error, errors.MissingFields) and fields:
        detail = f"Missing required fields: {', '.join(fields)}."
    elif isinstance(error, errors.UnexpectedFields) and fields:
        detail = f"These fields cannot be set here: {', '.join(fields)}."
    return Problem(
        status=error.http_status,
        code=error.code,
        title=error.title,
        detail=detail,
        entity_type=error.entity_type,
        fields=fields,
        values=values,
        request_id=current_request_id.get() if error.http_status >= 500 else None,
    )


def internal_error_problem() -> Problem:
    request_id = current_request_id.get()
    return Problem(
        status=500,
        code=errors.InternalError.code,
        title=errors.InternalError.title,
        detail=f"internal error (request id {request_id})",
        request_id=request_id,
    )


def _flatten(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF validation details as ``{"status.code": "...", "accountIds[2]": "..."}``."""
    if isinstance(detail, Mapping):
        flat: dict[str, str] = {}
        for key, value in detail.items():
            part = api_field_name(str(key))
            if isinstance(key, int):
                part = f"[{key}]"
            elif part == "body":
                part = ""
            elif prefix:
                part = f".{part}"
            flat.update(_flatten(value, f"{prefix}{part}"))
        return flat
    if isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            return {prefix or "body": " ".join(str(item) for item in detail)}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix or "body": str(detail)}


def invalid_field_error(
    detail: Any, *, entity_type: str | None = None, values: Mapping[str, Any] | None = None
) -> errors.InvalidField:
    """A 0047 for values of the wrong type or shape, from DRF's validation details."""
    fields = _flatten(detail)
    described = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return errors.InvalidField(
        f"Invalid fields: {described}" if described else None,
        entity_type=entity_type,
        fields=fields,
        values={name: value for name, value in (values or {}).items() if name in fields},
    )


def protocol_problem(code: str, detail: str | None = None) -> Problem:
    """The problem of an HTTP-level failure (``PROTOCOL_ERRORS``: 405, 406, 413, 415)."""
    error = PROTOCOL_ERRORS[code]
    return Problem(error.http_status, error.code, error.title, detail or error.default_message)


def _as_domain_error(exc: BaseException, headers: dict[str, str]) -> BaseException:
    """Django's 404/403 and the database's failures as the domain errors they mean: a lost
    race for locks is 409 (9009), an outage 503 (9008, ``Retry-After``)."""
    if isinstance(exc, Http404):
        return errors.EntityNotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return errors.PermissionDenied()
    database_error = errors.database_error(exc)
    if isinstance(database_error, errors.ConcurrentChange):
        logger.warning("Lock conflict while serving an API request: %s", exc)
        return database_error
    if database_error is not None:
        logger.warning("Database unavailable while serving an API request: %s", exc)
        headers["Retry-After"] = "5"
        return database_error
    return exc


def _access_problem(exc: drf.APIException, headers: dict[str, str]) -> Problem | None:
    """401, 403 and 429 (with ``WWW-Authenticate`` / ``Retry-After``), else None."""
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Bearer realm="api"'
        message = str(exc.detail) if isinstance(exc, drf.AuthenticationFailed) else None
        return problem_from_domain_error(errors.NotAuthenticated(message))
    if isinstance(exc, drf.PermissionDenied):
        return problem_from_domain_error(errors.PermissionDenied(str(exc.detail)))
    if isinstance(exc, drf.Throttled):
        wait = max(math.ceil(exc.wait or 1), 1)
        headers["Retry-After"] = str(wait)
        message = f"Too many requests; retry in {wait} second(s)."
        return problem_from_domain_error(errors.TooManyRequests(message))
    return None


def _request_problem(exc: drf.APIException) -> Problem | None:
    """DRF's other refusals of a request (body, route, method, media types), else None."""
    if isinstance(exc, drf.ParseError):
        detail = f"The request body is not valid JSON: {exc.detail}"
        return problem_from_domain_error(errors.InvalidJSON(detail))
    if isinstance(exc, drf.NotFound):
        return problem_from_domain_error(errors.EntityNotFound())
    if isinstance(exc, drf.ValidationError):
        return problem_from_domain_error(invalid_field_error(exc.detail))
    if isinstance(exc, drf.MethodNotAllowed):
        return protocol_problem("405", str(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return protocol_problem("406")
    if isinstance(exc, drf.UnsupportedMediaType):
        return protocol_problem("415", str(exc.detail))
    if exc.status_code < 500:
        return Problem(
            exc.status_code, str(exc.status_code), str(exc.default_detail), str(exc.detail)
        )
    return None


def problem_from_exception(exc: BaseException) -> tuple[Problem, dict[str, str]]:
    """The problem for any exception raised while serving an API request, and the headers
    that go with it (``WWW-Authenticate`` on 401, ``Retry-After`` on 429 and 503)."""
    headers: dict[str, str] = {}
    exc = _as_domain_error(exc, headers)
    if isinstance(exc, errors.DomainError):
        if exc.http_status >= 500 and exc.http_status != 503:
            logger.error("Domain error %s while serving an API request", exc.code, exc_info=exc)
        return problem_from_domain_error(exc), headers
    if isinstance(exc, drf.APIException):
        problem = _access_problem(exc, headers) or _request_problem(exc)
        if problem is not None:
            return problem, headers
    logger.error("Unhandled error while serving an API request", exc_info=exc)
    return internal_error_problem(), headers


def problem_response(
    request: HttpRequest, problem: Problem, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """The one way the API answers an error, from any layer: the problem's body (``type``
    absolute for this request), its status, the content type that the request's
    ``Accept`` reads (``problem_content_type``), ``Vary: Accept, Accept-Language`` (the
    title is in the request's language: ``problem_title``) and ``headers``."""
    response = HttpResponse(
        _RENDERER.render(problem.as_body(request)),
        status=problem.status,
        content_type=problem_content_type(request),
    )
    for name, value in (headers or {}).items():
        response[name] = value
    patch_vary_headers(response, ["Accept", "Accept-Language"])
    return response


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> HttpResponse:
    """DRF's ``EXCEPTION_HANDLER``: every exception of an API view, handled or not, answers
    one problem document. Nothing written in the failed request is kept."""
    problem, headers = problem_from_exception(exc)
    set_rollback()
    return problem_response(context["request"], problem, headers)
