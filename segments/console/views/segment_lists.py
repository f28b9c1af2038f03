"""The segments list, shared by a ledger's Segments tab and an organization's page; a
dynamic segment says so with its priority, read in the list's query."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from django.http import HttpRequest

from segments import selectors
from segments.console.presenters import STATUS_LABELS, status_label
from segments.console.views.lists import LIST_LIMITS, list_state, paginate_or_error
from segments.console.views.scope import Scope, segment_url
from segments.models import Segment
from segments.validators import metadata_value_text

SEGMENT_FILTERS = ("q", "status", "from", "to", "metadata")


def segment_list_context(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    """One page of the scope's segments (member counts and rule priorities in the rows:
    two queries) and what the filter bar, the table and the pager show."""
    state = list_state(request.GET, SEGMENT_FILTERS)
    page, filter_error = paginate_or_error(
        lambda: with_rule_priority(
            selectors.list_segments(request.user, scope.organization, scope.ledger, state.params)
        ),
        state.params,
    )
    attach_segment_urls(page.object_list)
    return {
        "state": state,
        "page": page,
        "filter_error": filter_error,
        "list_url": scope.segments_url,
        "limits": LIST_LIMITS,
        "status_labels": STATUS_LABELS,
    }


def with_rule_priority(segments: QuerySet[Segment]) -> QuerySet[Segment]:
    """Each segment with its rule's priority (``rule_priority``, None for a manual
    segment), read in the list's own query (a join on the one rule a segment may have)."""
    return segments.annotate(rule_priority=F("rule__priority"))


def attach_segment_urls(segments: list[Segment]) -> list[Segment]:
    """Give each row the URLs of its pages and actions, its status in words and its
    metadata as text (no query)."""
    for segment in segments:
        segment.urls = {
            "detail": segment_url(segment),
            "members": segment_url(segment, "members"),
            "edit": segment_url(segment, "edit"),
            "delete": segment_url(segment, "delete"),
        }
        segment.status_label = status_label(segment.status_code)
        segment.metadata_items = [
            (key, metadata_value_text(value)) for key, value in (segment.metadata or {}).items()
        ]
    return segments
