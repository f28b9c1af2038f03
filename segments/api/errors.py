"""The API's own error routes: the problem for an unrouted ``/v1…`` URL
(``route_not_found``, Midaz's 0484) and the pages a problem's ``type`` points at
(``/v1/errors``, ``/v1/errors/<code>``). The problem document itself is built and sent by
``segments.api.problems``."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from segments import errors
from segments.api.problems import PROTOCOL_ERRORS, problem_from_domain_error, problem_response


@csrf_exempt  # nothing is changed here; an unrouted POST answers 0484, not a CSRF page
def route_not_found(request: HttpRequest) -> HttpResponse:
    """Any ``/v1…`` URL that no API route matches: 404, Midaz's 0484, with ``DEBUG`` on
    or off (a route, not ``handler404``, so Django's debug page never answers it). Like
    ``APPEND_SLASH``, a GET whose path with a trailing slash is a real page (``/v1/docs``)
    is redirected there."""
    if request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not route_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    problem = problem_from_domain_error(
        errors.RouteNotFound(f"No API route matches {request.method} {request.path}.")
    )
    return problem_response(request, problem)


# --------------------------------------------------------------------------- error pages


@dataclass(frozen=True)
class ErrorPage:
    code: str
    http_status: int
    title: str
    meaning: str


def error_pages() -> list[ErrorPage]:
    """Every code the API answers with, domain codes first."""
    pages = [
        ErrorPage(cls.code, cls.http_status, cls.title, cls.default_message)
        for cls in errors.ERRORS_BY_CODE.values()
    ]
    pages.sort(key=lambda page: page.code)
    pages += [
        ErrorPage(error.code, error.http_status, error.title, error.default_message)
        for error in PROTOCOL_ERRORS.values()
    ]
    return pages


def error_code_page(request: HttpRequest, code: str | None = None) -> HttpResponse:
    """The page a problem's ``type`` points at: what the code means (all codes when none)."""
    pages = error_pages()
    if code is not None:
        pages = [page for page in pages if page.code == code]
        if not pages:
            unknown = errors.EntityNotFound(f"There is no error code {code[:64]}.")
            return problem_response(request, problem_from_domain_error(unknown))
    return render(request, "api/error_codes.html", {"pages": pages, "single": code is not None})
