"""The events feed: ``GET /v1/organizations/{org}/events``, the outbox of one organization
as CloudEvents in structured JSON, oldest first, so that a consumer without a broker can
follow every change by polling with ``after``. Tenancy as everywhere: a member of the
organization reads it (a viewer too); anyone else gets 404 (0007).

``next`` is the id to send as ``after`` for what follows: the last item's when the page
has items, else the ``after`` that was sent (null on an empty outbox), so that a poller
always has a cursor.

**A poller never skips an event.** Ids follow commit order per subject, not across
subjects: a transaction still in flight may commit later an event whose id is below ids
already visible. So a page ends before the first event written by a transaction that was
not yet finished when the page was asked (its ``txid`` at or above the oldest transaction
of this database in flight, read first from PostgreSQL's snapshot), and before any event younger
than ``EVENTS_FEED_SETTLE_MS`` (clocks of several app servers, ids stamped ahead within a
millisecond). What is held back comes on a later poll, in id order, after the cursor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from segments import selectors
from segments.api import operations as docs
from segments.api.pagination import LIMIT
from segments.api.views import ApiViewSet
from segments.event_shapes import event_type, structured
from segments.filters import check_query_text, parse_uuid_param
from segments.models import Event, Organization

DEFAULT_FEED_LIMIT = 10


class CloudEventSerializer(serializers.Serializer):
    """One event, CloudEvents 1.0 structured mode."""

    specversion = serializers.CharField(help_text="`1.0`.")
    id = serializers.UUIDField(help_text="UUIDv7; consumers deduplicate on it.")
    source = serializers.CharField(help_text="`EVENTS_SOURCE` (default `ledger`).")
    type = serializers.CharField(help_text="`studio.lerian.<source>.<resource>.<event>`.")
    subject = serializers.CharField(help_text="The aggregate's id.")
    time = serializers.DateTimeField()
    tenantid = serializers.UUIDField(help_text="The organization's id.")
    schemaversion = serializers.CharField(help_text="`1.0.0`.")
    datacontenttype = serializers.CharField(help_text="`application/json`.")
    data = serializers.JSONField(help_text="The event's payload (no metadata).")


@extend_schema_serializer(many=False)  # a list route, but one page object
class EventPageSerializer(serializers.Serializer):
    items = CloudEventSerializer(many=True)
    next = serializers.UUIDField(
        allow_null=True, help_text="Send as `after` for what follows (see the description)."
    )


FEED_PARAMETERS = [
    OpenApiParameter(
        "after",
        OpenApiTypes.UUID,
        description="Only events after this event id (0082 if not a UUID).",
    ),
    OpenApiParameter(
        "type",
        OpenApiTypes.STR,
        description="Only this event key (`segment.created`) or CloudEvents `type`.",
    ),
    OpenApiParameter("subject", OpenApiTypes.STR, description="Only events of this aggregate id."),
    LIMIT,
]
FEED_DOC = docs.operation(
    "listOrganizationEvents",
    "An organization's events",
    "Events",
    success={200: OpenApiResponse(EventPageSerializer)},
    errors=docs.READ_ERRORS,
    parameters=FEED_PARAMETERS,
    description="Every change of the organization's data as CloudEvents in structured "
    "mode, oldest first, from the transactional outbox (the broker's events, also when no "
    "broker is configured). Poll with `after` = the `next` of the last page. A page stops "
    "before anything a transaction still in flight could precede (it comes on a later "
    "poll): following `next` never skips an event.",
)


def events_of(organization: Organization, params: Any) -> tuple[QuerySet[Event], int]:
    """The organization's events matching the feed's parameters, oldest first, and the
    page size (``limit`` as every list's, 0080 above the maximum). Text no row can hold
    (NUL, control characters) is 0082, as in every list."""
    check_query_text(params)
    _, limit = selectors.page_params({"limit": params.get("limit") or DEFAULT_FEED_LIMIT})
    events = Event.objects.filter(organization_id=organization.pk).order_by("id")
    if params.get("after"):
        events = events.filter(id__gt=parse_uuid_param(params["after"], "after"))
    if params.get("type"):
        key = params["type"].strip()
        prefix = event_type("")
        events = events.filter(key=key[len(prefix) :] if key.startswith(prefix) else key)
    if params.get("subject"):
        events = events.filter(subject=params["subject"].strip())
    return events, limit


def _oldest_in_flight() -> int | None:
    """The oldest transaction of THIS database still in flight, or the snapshot's ``xmax``
    (the first id not yet begun) when none is (PostgreSQL; None elsewhere: one writer).
    The snapshot's ``xmin`` alone would count every database of the server: one long
    transaction anywhere would hold the feed back. An in-flight id is kept when a
    session of this database runs it (``pg_stat_activity.backend_xid``; the app's own
    sessions are always visible to it)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce((SELECT min(x) FROM pg_snapshot_xip(s.snapshot) AS x "
            "WHERE x::xid IN (SELECT backend_xid FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL)), "
            "pg_snapshot_xmax(s.snapshot))::text::bigint "
            "FROM (SELECT pg_current_snapshot() AS snapshot) AS s"
        )
        return cursor.fetchone()[0]


def _id_at(instant: dt.datetime) -> uuid.UUID:
    """The smallest UUIDv7 of ``instant``'s millisecond."""
    return uuid.UUID(int=int(instant.timestamp() * 1000) << 80)


def settled(events: QuerySet[Event], limit: int) -> list[Event]:
    """At most ``limit`` of ``events`` (in id order) that no later poll could see preceded
    by a newer one: the module's rule."""
    in_flight = _oldest_in_flight()
    settle = dt.timedelta(milliseconds=settings.EVENTS_FEED_SETTLE_MS)
    page = list(events.filter(id__lt=_id_at(timezone.now() - settle))[:limit])
    if in_flight is None:
        return page
    late = (n for n, event in enumerate(page) if event.txid is not None and event.txid >= in_flight)
    return page[: next(late, len(page))]


@extend_schema_view(list=FEED_DOC)
class EventFeedViewSet(ApiViewSet):
    """The feed's one route; authenticated, throttled, problems as every API route."""

    pagination_class = None

    def get_view_name(self) -> str:
        return "Organization Events List"

    def get_view_description(self, html: bool = False) -> str:
        return ""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organization = selectors.get_organization(request.user, kwargs["organization_id"])
        events, limit = events_of(organization, request.query_params)
        items = [structured(event) for event in settled(events, limit)]
        after = request.query_params.get("after") or None
        return Response({"items": items, "next": items[-1]["id"] if items else after})
