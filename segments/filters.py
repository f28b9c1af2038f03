"""One FilterSet per entity, shared by the API lists and the console tabs.

Beyond each entity's own filters, every list understands:

- ``start_date`` / ``end_date``: the creation window, both ends inclusive, both
  required together (``YYYY-MM-DD`` or ``YYYY-MM-DD hh:mm:ss``, UTC); the calendar's
  edges are ordinary bounds (``end_date=9999-12-31`` means "no upper bound", see
  ``creation_window``);
- ``metadata.<key>=<value>`` (API) or ``metadata=<key>=<value>`` (console form): exact
  match on the text of a metadata value;
- ``sort_order``: ``asc`` (default) or ``desc`` by creation time.

Bad values raise the domain error of ``shared/spec/api.md`` (0081, 0082, 0083), so the
API and the console report them the same way. Use ``apply_filters``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

import django_filters
from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from django_filters.filters import FilterMethod
from drf_spectacular.utils import OpenApiParameter, extend_schema_field

from segments import errors
from segments.ids import uuid_or_none
from segments.models import (
    Account,
    Benefit,
    BenefitKind,
    Ledger,
    Organization,
    Portfolio,
    Segment,
    Status,
)
from segments.validators import has_invalid_characters

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_uuid_param(value: str, name: str) -> uuid.UUID:
    parsed = uuid_or_none(value)
    if parsed is None:
        raise errors.MalformedQuery(f"Query parameter '{name}' must be a UUID.")
    return parsed


def _parse_bound(value: str) -> tuple[dt.datetime, bool]:
    """The naive datetime of a ``DATE_FORMATS`` value, and whether it was a date alone."""
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt), fmt == "%Y-%m-%d"
        except ValueError:
            continue
    raise errors.InvalidDateRange(f"'{value}' is not a date (use YYYY-MM-DD).")


def creation_window(start: str, end: str) -> tuple[dt.datetime, dt.datetime | None]:
    """The aware (UTC) instants ``[start, end)`` of a ``start_date``/``end_date`` pair,
    or InvalidDateRange (0083).

    Both ends are inclusive as given: a date alone as the end means up to the end of that
    day, so the exclusive upper instant is the next midnight. The calendar's last day
    (``9999-12-31``) has no next midnight: an end there means "no upper bound" (None), so
    ``0001-01-01`` … ``9999-12-31`` selects every row, never an overflow. Times are UTC and
    are never shifted by a time zone, so no other bound can leave the calendar either.
    """
    start_at, _ = _parse_bound(start)
    end_at, end_is_date = _parse_bound(end)
    if start_at > end_at:
        raise errors.InvalidDateRange("start_date may not be after end_date.")
    try:
        upper = end_at + (dt.timedelta(days=1) if end_is_date else dt.timedelta(microseconds=1))
    except OverflowError:
        upper = None
    return (
        timezone.make_aware(start_at, dt.UTC),
        None if upper is None else timezone.make_aware(upper, dt.UTC),
    )


def documented(schema: dict[str, Any], description: str) -> Any:
    """The OpenAPI description of a filter (drf-spectacular reads it from the FilterSet;
    ``openapi_parameters`` from ``openapi_schema``)."""
    described = {**schema, "description": description}

    def decorate(target: Any) -> Any:
        target.openapi_schema = described
        return extend_schema_field(described)(target)

    return decorate


TEXT = {"type": "string"}


def _handled_in_filter_queryset(description: str, schema: dict[str, Any] = TEXT):
    """A parameter that ``EntityFilterSet.filter_queryset`` reads itself."""
    return documented(schema, description)(
        django_filters.CharFilter(method="_handled_in_filter_queryset")
    )


def sort_filter(*sortable: str) -> django_filters.CharFilter:
    return _handled_in_filter_queryset(
        "Order of the list: by creation time (default) or by one of these.",
        {"type": "string", "enum": ["created", *sortable]},
    )


class FiltersCopiedPerInstance(dict):
    """A FilterSet's base filters, whose ``deepcopy`` — django-filter's, once per FilterSet
    instance, so once per request — copies each filter with its own ``extra``, not every
    object the filters reach (~380 ``deepcopy`` calls, ~1 ms, a list request before). A
    copy gets its own form field when first asked, as a deep copy would, and its own
    ``method`` proxy, so that its ``parent`` is its own FilterSet's."""

    def __deepcopy__(self, memo: dict) -> dict:
        copies = {}
        for name, base in self.items():
            filter_ = copy.copy(base)
            filter_.extra = dict(base.extra)
            filter_.__dict__.pop("_field", None)
            if getattr(base, "_method", None) is not None:
                filter_.filter = FilterMethod(filter_)
            copies[name] = filter_
        return copies


class EntityFilterSet(django_filters.FilterSet):
    start_date = _handled_in_filter_queryset(
        "Created on or after (YYYY-MM-DD or YYYY-MM-DD hh:mm:ss, UTC); needs end_date."
    )
    end_date = _handled_in_filter_queryset(
        "Created on or before (YYYY-MM-DD or YYYY-MM-DD hh:mm:ss, UTC); needs start_date. "
        "9999-12-31, the calendar's last day, means no upper bound."
    )
    sort_order = _handled_in_filter_queryset(
        "By creation time (or `sort`); anything else is 0081.",
        {"type": "string", "enum": ["asc", "desc"]},
    )
    sort = sort_filter()
    metadata = _handled_in_filter_queryset(
        "`key=value`: only those whose metadata value for `key` has that text (as "
        "`metadata.<key>=<value>`, which combines freely with the other filters)."
    )

    sortable: dict[str, Any] = {}

    @classmethod
    def get_filters(cls) -> FiltersCopiedPerInstance:
        return FiltersCopiedPerInstance(super().get_filters())

    def get_form_class(self) -> type:
        """django-filter makes a new form class per FilterSet instance, so per request; its
        fields come from the declared filters alone, so it is made once per FilterSet class
        (each form instance still copies its class's fields, as Django's forms do)."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = cls._form_class = super().get_form_class()
        return form_class

    def _handled_in_filter_queryset(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        queryset = self._filter_created_window(queryset)
        queryset = self._filter_metadata(queryset)
        return self._order(queryset)

    def _filter_created_window(self, queryset: QuerySet) -> QuerySet:
        start, end = self.data.get("start_date"), self.data.get("end_date")
        if not start and not end:
            return queryset
        if not start or not end:
            raise errors.InvalidDateRange("start_date and end_date must be given together.")
        start_at, before = creation_window(start, end)
        queryset = queryset.filter(created_at__gte=start_at)
        return queryset if before is None else queryset.filter(created_at__lt=before)

    def metadata_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for name in self.data:
            if name.startswith("metadata.") and len(name) > len("metadata."):
                pairs.append((name.removeprefix("metadata."), self.data.get(name)))
        console_pair = self.data.get("metadata")
        if console_pair:
            key, sep, value = console_pair.partition("=")
            if not sep or not key.strip():
                raise errors.MalformedQuery("metadata filter must look like key=value.")
            pairs.append((key.strip(), value.strip()))
        return pairs

    def _filter_metadata(self, queryset: QuerySet) -> QuerySet:
        for index, (key, value) in enumerate(self.metadata_pairs()):
            alias = f"_metadata_{index}"
            # Cast: compared as plain text on every database (SQLite's JSON-aware lookup
            # on a key transform would read the value as JSON).
            text = Cast(MetadataKeyText(key, "metadata"), TextField())
            queryset = queryset.alias(**{alias: text}).filter(**{alias: value})
        return queryset

    def _order(self, queryset: QuerySet) -> QuerySet:
        direction = (self.data.get("sort_order") or "asc").lower()
        if direction not in ("asc", "desc"):
            raise errors.InvalidSortOrder()
        sort = self.data.get("sort") or "created"
        if sort not in ("created", *self.sortable):
            raise errors.MalformedQuery(
                f"sort must be one of: created, {', '.join(self.sortable)}."
            )
        keys = [self.sortable[sort], "id"] if sort != "created" else ["created_at", "id"]
        if direction == "desc":
            return queryset.order_by(*(_descending(key) for key in keys))
        return queryset.order_by(*keys)


class MetadataKeyText(KeyTextTransform):
    """The text of one metadata key, the key always read as an object key. Django's own
    transform reads a key made of digits as an array index (``metadata.5`` would never
    match ``{"5": …}``, and ``metadata.18446744073709551616`` compiles to
    ``jsonb ->> numeric``, which PostgreSQL refuses)."""

    def as_postgresql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        return f"({lhs} #>> %s)", (*params, [self.key_name])  # a text[] path: a key

    def as_sqlite(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        path = "$." + json.dumps(self.key_name)
        return (
            f"(CASE WHEN JSON_TYPE({lhs}, %s) IN ('true', 'false', 'null') "
            f"THEN JSON_TYPE({lhs}, %s) ELSE JSON_EXTRACT({lhs}, %s) END)",
            (*params, path, *params, path, *params, path),
        )


def _descending(key: Any) -> Any:
    return key.desc() if hasattr(key, "desc") else f"-{key}"


@documented(
    {"type": "string", "pattern": "^(none|[0-9a-fA-F-]{32,36})$"},
    "Only those in this one (a UUID), or `none` for those in none.",
)
class SegmentReferenceFilter(django_filters.CharFilter):
    """A segment (or portfolio) id; ``none`` selects rows without one."""

    def filter(self, queryset: QuerySet, value: Any) -> QuerySet:
        if not value:
            return queryset
        if value == "none":
            return queryset.filter(**{f"{self.field_name}__isnull": True})
        return queryset.filter(**{self.field_name: parse_uuid_param(value, self.field_name)})


def _search_q(value: str, *text_fields: str) -> Q:
    """Case-insensitive contains on the text fields, or the exact id when the value is one."""
    query = Q()
    for field in text_fields:
        query |= Q(**{f"{field}__icontains": value})
    pk = uuid_or_none(value.strip())
    if pk is not None:
        query |= Q(pk=pk)
    return query


# Each FilterSet below declares its filters, its sort keys, then its model, in that order:
# the shape of a FilterSet, alike from one entity to the next on purpose.


class OrganizationFilterSet(EntityFilterSet):
    class Meta:
        model = Organization
        fields: list[str] = []


CONTAINS = "Name contains (case-insensitive)."


def name_contains() -> django_filters.CharFilter:
    return documented(TEXT, CONTAINS)(django_filters.CharFilter(lookup_expr="icontains"))


class SearchFilter(django_filters.CharFilter):
    """``q``: rows whose ``fields`` contain the text (case-insensitive), or whose id it is."""

    def __init__(self, *fields: str) -> None:
        super().__init__()
        self.search_fields = fields
        words = " or the ".join(field.replace("_", " ") for field in fields)
        documented(
            TEXT, f"Search: the {words} contains this (case-insensitive), or the id is this."
        )(self)

    def filter(self, queryset: QuerySet, value: Any) -> QuerySet:
        return queryset.filter(_search_q(value, *self.search_fields)) if value else queryset


class LedgerFilterSet(EntityFilterSet):
    name = name_contains()

    class Meta:
        model = Ledger
        fields: list[str] = []


class SegmentFilterSet(EntityFilterSet):
    name = name_contains()
    status = documented({"type": "string", "enum": Status.values}, "Status code.")(
        django_filters.CharFilter(method="filter_status")
    )
    q = SearchFilter("name")
    sort = sort_filter("name")

    sortable = {"name": Lower("name")}

    class Meta:
        model = Segment
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status_code=parse_status(value))


class PortfolioFilterSet(EntityFilterSet):
    segment_id = SegmentReferenceFilter(field_name="segment_id")
    name = name_contains()
    q = SearchFilter("name", "entity_id")
    sort = sort_filter("name")

    sortable = {"name": Lower("name")}

    class Meta:
        model = Portfolio
        fields: list[str] = []


class AccountFilterSet(EntityFilterSet):
    segment_id = SegmentReferenceFilter(field_name="segment_id")
    portfolio_id = SegmentReferenceFilter(field_name="portfolio_id")
    alias = documented(TEXT, "Exact alias.")(django_filters.CharFilter(field_name="alias"))
    type = documented(TEXT, "Exact type, e.g. deposit.")(
        django_filters.CharFilter(field_name="type")
    )
    asset_code = documented(TEXT, "Exact asset code, e.g. BRL.")(
        django_filters.CharFilter(field_name="asset_code")
    )
    blocked = documented({"type": "string", "enum": ["true", "false"]}, "Blocked or not.")(
        django_filters.CharFilter(method="filter_blocked")
    )
    q = SearchFilter("name", "alias")
    sort = sort_filter("name", "alias")

    sortable = {"name": Lower("name"), "alias": "alias"}

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_blocked(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        flag = value.strip().lower()
        if flag not in ("true", "false"):
            raise errors.MalformedQuery("blocked must be true or false.")
        return queryset.filter(blocked=flag == "true")


def openapi_parameters(filterset_class: type[EntityFilterSet]) -> list[OpenApiParameter]:
    """The query parameters of a FilterSet, for a route that filters with it but is not
    its viewset's list (a segment's members)."""
    parameters = []
    for name, declared in filterset_class.base_filters.items():
        schema = dict(getattr(declared, "openapi_schema", TEXT))
        description = schema.pop("description", "")
        parameters.append(OpenApiParameter(name, schema, description=description))
    return parameters


def check_query_text(params: Mapping[str, Any]) -> None:
    """Every query parameter, its name and each of its values, is text that could be stored
    (``validators.validate_text``: no NUL or other control character): else 0082 naming
    the parameter. No stored row can match such text, and PostgreSQL refuses a NUL in a
    query outright."""
    pairs = params.lists() if hasattr(params, "lists") else params.items()
    for name, values in pairs:
        values = values if isinstance(values, list | tuple) else [values]
        texts = [name, *(value for value in values if isinstance(value, str))]
        if any(has_invalid_characters(text) for text in texts):
            raise errors.MalformedQuery(
                f"Query parameter '{name}' holds a NUL or another control character.",
                fields={name: "may not contain NUL or other control characters"},
            )


def apply_filters(
    filterset_class: type[EntityFilterSet], params: Mapping[str, Any], queryset: QuerySet
) -> QuerySet:
    """The queryset narrowed and ordered by the query parameters, or a domain error."""
    check_query_text(params)
    filterset = filterset_class(params, queryset=queryset)
    if not filterset.is_valid():
        raise errors.MalformedQuery(
            "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in filterset.errors.items())
        )
    return filterset.qs


class BenefitFilterSet(EntityFilterSet):
    """A segment's benefits: by ``kind``, ``status`` and ``active_at`` (ACTIVE, and the
    instant inside the window)."""

    kind = documented({"type": "string", "enum": BenefitKind.values}, "Kind of benefit.")(
        django_filters.CharFilter(method="filter_kind")
    )
    status = documented({"type": "string", "enum": Status.values}, "Status code.")(
        django_filters.CharFilter(method="filter_status")
    )
    active_at = documented(
        {"type": "string", "format": "date-time"},
        "Only benefits ACTIVE with this instant inside their window (ISO 8601, UTC).",
    )(django_filters.CharFilter(method="filter_active_at"))
    name = name_contains()
    sort = sort_filter("name", "priority")

    sortable = {"name": Lower("name"), "priority": "priority"}

    class Meta:
        model = Benefit
        fields: list[str] = []

    def filter_kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(kind=parse_kind(value))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status_code=parse_status(value))

    def filter_active_at(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        at = parse_instant(value, name)
        return queryset.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=at),
            Q(valid_until__isnull=True) | Q(valid_until__gt=at),
            status_code=Status.ACTIVE,
        )


def parse_status(value: str) -> str:
    """A ``status`` query parameter (any case) as its code, or 0082."""
    if value.upper() not in Status.values:
        raise errors.MalformedQuery(f"status must be one of {', '.join(Status.values)}.")
    return value.upper()


def parse_kind(value: str) -> str:
    """A ``kind`` query parameter as a kind of benefit, or 0082."""
    if value not in BenefitKind.values:
        raise errors.MalformedQuery(f"kind must be one of {', '.join(BenefitKind.values)}.")
    return value


def parse_instant(value: str, name: str) -> dt.datetime:
    """An ISO 8601 instant of a query parameter (UTC when it names no offset), in UTC, or
    0082."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return as_utc(parsed)
    except (ValueError, OverflowError):
        raise errors.MalformedQuery(
            f"Query parameter '{name}' must be an ISO 8601 date-time.",
            fields={name: "not an ISO 8601 date-time"},
        ) from None


def as_utc(instant: dt.datetime) -> dt.datetime:
    """An instant in UTC (a naive one is read as UTC). The database keeps UTC, and
    refuses offsets that Python accepts (beyond ±15:59); an instant that leaves the
    calendar in UTC raises OverflowError."""
    if timezone.is_naive(instant):
        return instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(dt.UTC)
