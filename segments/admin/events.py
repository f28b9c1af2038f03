"""The admin's outbox page: every event the services wrote, whether it went out, and the
retry of dead ones.

- Read-only: events are written by the services in their change's transaction and moved
  on by the relay; nobody adds, changes or deletes one by hand.
- Filters by status (pending, published, dead), by event type (its key,
  ``segment.created`` …) and by organization; a pasted id finds the event with that id or
  the events about that subject.
- "Retry" is one call of ``services.events.retry_dead_events`` for the selected rows
  (only dead ones are retried, who retried is recorded); it is offered only to whom
  ``may_retry_events`` allows (staff holding ``segments.retry_event``, superusers).
- The list costs a fixed number of queries whatever its size (``BigTableMixin``).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from segments.admin.changelists import BigTableMixin
from segments.admin.filters import LabelledRelatedFilter
from segments.admin.readonly import ReadOnlyAdminMixin
from segments.errors import DomainError
from segments.ids import uuid_or_none
from segments.models import Event, EventStatus
from segments.services.events import may_retry_events, retry_dead_events

# The event keys of the contract (``shared/spec/events.md``), for the type filter.
ENTITY_EVENTS = ("created", "updated", "deleted")
EVENT_KEYS = (
    *(
        f"{resource}.{event}"
        for resource in ("organization", "ledger", "segment", "portfolio", "account", "benefit")
        for event in ENTITY_EVENTS
    ),
    "segment.members.changed",
    "segment.rule.updated",
    "segment.membership.refreshed",
)
ERROR_SHOWN = 80  # characters of the last error in the list (the row's page has it all)


class EventKeyFilter(admin.SimpleListFilter):
    """Events of one type (their key); the choices are the contract's keys, listed without
    reading the table."""

    title = _("event type")
    parameter_name = "key"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(key, key) for key in sorted(EVENT_KEYS)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(key=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, BigTableMixin, admin.ModelAdmin):
    """The outbox (``models.events``): newest first, read-only, dead rows retryable."""

    list_display = ("id", "key", "subject", "status", "attempts", "next_or_published", "error")
    list_filter = ("status", EventKeyFilter, ("organization", LabelledRelatedFilter))
    search_help_text = _("A whole event id, or the id of the row the events are about.")
    search_fields = ("subject",)  # shows the search box; ``get_search_results`` decides
    date_hierarchy = None
    actions = ("retry",)
    fields = (
        "id",
        "key",
        "subject",
        "organization",
        "time",
        "status",
        "attempts",
        "next_attempt_at",
        "published_at",
        "last_error",
        "retried_by",
        "retried_at",
        "data_json",
    )
    readonly_fields = fields

    @admin.display(description=_("next attempt / published at"))
    def next_or_published(self, obj: Event) -> Any:
        if obj.status == EventStatus.PUBLISHED:
            return obj.published_at
        if obj.status == EventStatus.PENDING:
            return obj.next_attempt_at
        return "—"

    @admin.display(description=_("last error"))
    def error(self, obj: Event) -> str:
        if not obj.last_error:
            return "—"
        shown = Truncator(obj.last_error).chars(ERROR_SHOWN)
        return format_html('<span title="{}">{}</span>', obj.last_error, shown)

    @admin.display(description=_("data"))
    def data_json(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, ensure_ascii=False))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        """The list leaves the payload out: a ``segment.members.changed`` row carries up to
        1,000 ids, and the list never shows them (the row's page does)."""
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and (match.url_name or "").endswith("_changelist"):
            return queryset.defer("data")
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """A whole id finds the event with that id and the events about that subject (both
        indexed); any other text, the events whose subject is exactly that text."""
        term = search_term.strip()
        if not term:
            return queryset, False
        pk = uuid_or_none(term)
        if pk is None:
            return queryset.filter(subject=term), False
        return queryset.filter(Q(pk=pk) | Q(subject=str(pk))), False

    # ----------------------------------------------------------------- retry

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return may_retry_events(request.user)

    @admin.action(permissions=["retry"], description=_("Retry selected dead events"))
    def retry(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        """Send the selected dead events again (one service call for all of them); says how
        many were retried and how many were left as they were (not dead)."""
        ids = list(queryset.values_list("pk", flat=True))
        try:
            retried = retry_dead_events(request.user, ids)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        left = len(ids) - retried
        done = ngettext(
            "Retried %(count)s dead event: it is pending again.",
            "Retried %(count)s dead events: they are pending again.",
            retried,
        ) % {"count": retried}
        if left:
            done += " " + ngettext(
                "%(count)s selected event was not dead and was left as it was.",
                "%(count)s selected events were not dead and were left as they were.",
                left,
            ) % {"count": left}
        self.message_user(request, done, messages.SUCCESS if retried else messages.WARNING)
