"""The site's own error views, declared in ``segments_console/urls.py`` as ``handler404``
and ``handler500``: an API request (``is_api_request``) gets the API's problem document,
any other the site's page (``templates/404.html``, Django's plain 500 page)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from segments import errors
from segments.api.problems import (
    internal_error_problem,
    is_api_request,
    problem_from_domain_error,
    problem_response,
)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: under ``/v1/`` a problem document (0007), elsewhere the site's page."""
    if is_api_request(request):
        return problem_response(request, problem_from_domain_error(errors.EntityNotFound()))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: under ``/v1/`` a problem document (9999 and the request id), elsewhere
    the site's page. Django has already logged the exception."""
    if is_api_request(request):
        return problem_response(request, internal_error_problem())
    return defaults.server_error(request)
