"""The segments list, shared by a ledger's Segments tab and an organization's page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from segments import selectors
from segments.console.presenters import STATUS_LABELS
from segments.console.views.common import (
    LIST_LIMITS,
    Scope,
    attach_segment_urls,
    list_state,
    page_numbers,
    paginate_or_error,
)

SEGMENT_FILTERS = ("q", "status", "from", "to", "metadata")


def segment_list_context(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    """One page of the scope's segments (member counts annotated: two queries) and what
    the filter bar, the table and the pager show."""
    state = list_state(request.GET, SEGMENT_FILTERS)
    page, filter_error = paginate_or_error(
        lambda: selectors.list_segments(
            request.user, scope.organization, scope.ledger, state.params
        ),
        state.params,
    )
    attach_segment_urls(page.items)
    return {
        "state": state,
        "page": page,
        "page_numbers": page_numbers(page),
        "filter_error": filter_error,
        "list_url": scope.segments_url,
        "limits": LIST_LIMITS,
        "status_labels": STATUS_LABELS,
    }
