"""The OpenAPI document (drf-spectacular): what each operation answers, errors included.

Every operation documents its success body and headers (``X-Request-Id`` on every
response, ``X-Total-Count`` on lists and counts, ``ETag`` on single entities), its query
parameters as the list functions really read them, and each error status it can send as
a problem document (``application/problem+json``, or ``application/json`` when asked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_patched_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from segments.api.problems import JSON_CONTENT_TYPE, PROBLEM_CONTENT_TYPE
from segments.api.serializers import (
    HistoryEntrySerializer,
    MembersAssignedSerializer,
    MembersInputSerializer,
    MembersRemovedSerializer,
    required_fields,
    writable_fields,
)
from segments.models import Entity, Segment, Status
from segments.selectors import MAX_PAGE

# --------------------------------------------------------------------------- problem body


class ProblemDetailSerializer(serializers.Serializer):
    location = serializers.CharField(help_text="The field, e.g. `status.code`.")
    message = serializers.CharField()
    value = serializers.JSONField(required=False, help_text="The value that was sent.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem document with the Midaz v4 and v3 members."""

    type = serializers.URLField(
        help_text="Absolute URL of the page explaining the code: `https://host/v1/errors/{code}`."
    )
    title = serializers.CharField()
    status = serializers.IntegerField(help_text="The HTTP status.")
    detail = serializers.CharField()
    message = serializers.CharField(help_text="Same text as `detail` (Midaz v3).")
    code = serializers.CharField(help_text="Midaz error code, e.g. `0053`.")
    entityType = serializers.CharField(required=False)
    errors = ProblemDetailSerializer(many=True, required=False)
    fields = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="`errors` as a map (Midaz v3)."
    )
    requestId = serializers.CharField(required=False, help_text="On 5xx: the request id to quote.")


ERROR_DESCRIPTIONS = {
    400: "Malformed request: body, path or query parameter (0009, 0047, 0050, 0051, 0053, "
    "0065, 0067, 0080, 0081, 0082, 0083, 0094).",
    401: "Missing or invalid credentials (9003).",
    403: "Your role in the organization does not allow this (9004).",
    404: "Not found, deleted, or not yours (0007); an id in the body not found (0035-0038).",
    405: "Method not allowed on this route.",
    406: "Only JSON responses are available.",
    409: "Conflict: duplicate name or alias (0002, 0015, 0020), members or children left (9001, "
    "9002), Idempotency-Key reused with another body (9007).",
    412: "If-Match does not match the current ETag (9006).",
    413: "The request body is larger than 2 MiB (MAX_REQUEST_BODY_BYTES).",
    415: "Bodies must be application/json.",
    422: "The segment is not ACTIVE (0014).",
    429: "Too many requests (9005); see Retry-After.",
    500: "Unexpected error (9999): quote the request id.",
    503: "The database is unavailable (9008); nothing was changed; see Retry-After.",
}

READ_ERRORS = (400, 401, 404, 406, 429, 500, 503)
WRITE_ERRORS = (400, 401, 403, 404, 406, 409, 412, 413, 415, 422, 429, 500, 503)
COUNT_ERRORS = (400, 401, 404, 429, 500, 503)


def problems(statuses: Iterable[int]) -> dict[Any, OpenApiResponse]:
    """Each error status as a problem document: ``application/problem+json``, or
    ``application/json`` when the request's ``Accept`` names only that
    (``problems.problem_content_type``)."""
    return {
        (status, content_type): OpenApiResponse(
            ProblemSerializer, description=ERROR_DESCRIPTIONS[status]
        )
        for status in statuses
        for content_type in (PROBLEM_CONTENT_TYPE, JSON_CONTENT_TYPE)
    }


# --------------------------------------------------------------------------- headers

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Makes this POST safe to retry for 24 hours: the same key with the same body "
    "answers the first response again (header `Idempotent-Replayed: true`) and creates "
    "nothing; the same key with another body answers 409 (9007). 1 to 255 characters.",
)
REQUEST_ID = OpenApiParameter(
    "X-Request-Id",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    required=True,
    description="The request's id (yours when you sent a sane one).",
)
TOTAL_COUNT = OpenApiParameter(
    "X-Total-Count",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[200, 204],
    required=True,
    description="How many items match, over all pages.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    required=True,
    description="The entity's version; send it back as If-Match to update safely.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Apply only if the entity's ETag is one of these (else 412, 9006).",
)

# --------------------------------------------------------------------------- query parameters

LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        description="Items per page, 1–100 (above 100: 0080).",
    ),
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        description="Page, from 1.",
    ),
    OpenApiParameter(
        "sort_order",
        OpenApiTypes.STR,
        enum=["asc", "desc"],
        description="By creation time; anything else is 0081.",
    ),
    OpenApiParameter(
        "start_date",
        OpenApiTypes.STR,
        description="Created on or after (YYYY-MM-DD or YYYY-MM-DD hh:mm:ss, UTC); needs end_date.",
    ),
    OpenApiParameter(
        "end_date",
        OpenApiTypes.STR,
        description=(
            "Created on or before (YYYY-MM-DD or YYYY-MM-DD hh:mm:ss, UTC); needs start_date. "
            "9999-12-31, the calendar's last day, means no upper bound."
        ),
    ),
]
METADATA_NOTE = (
    "\n\nAlso filters by metadata: `metadata.<key>=<value>` matches entities whose "
    "metadata value for `<key>` has that text; combine freely with the other filters. "
    "No match is an empty page."
)


def _reference(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": "^(none|[0-9a-fA-F-]{32,36})$"},
        description=f"Only those in this {what} (a UUID), or `none` for those in none.",
    )


def _text_filter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description=description)


FILTERS: dict[str, list[OpenApiParameter]] = {
    "Organization": [],
    "Ledger": [_text_filter("name", "Name contains (case-insensitive).")],
    "Segment": [
        _text_filter("name", "Name contains (case-insensitive)."),
        OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
    ],
    "Portfolio": [
        _reference("segment_id", "segment"),
        _text_filter("name", "Name contains (case-insensitive)."),
    ],
    "Account": [
        _reference("segment_id", "segment"),
        _reference("portfolio_id", "portfolio"),
        _text_filter("alias", "Exact alias."),
        _text_filter("type", "Exact type, e.g. deposit."),
        _text_filter("asset_code", "Exact asset code, e.g. BRL."),
        OpenApiParameter("blocked", OpenApiTypes.STR, enum=["true", "false"]),
        OpenApiParameter(
            "cursor",
            OpenApiTypes.STR,
            description="Keyset paging: a `next_cursor` or `prev_cursor` from a response. "
            "Cursor pages are in creation order; a list with another `sort` is paged by "
            "`page` and offers no cursor (a cursor with it is 0082).",
        ),
    ],
}
MEMBER_KIND = OpenApiParameter(
    "kind",
    OpenApiTypes.STR,
    enum=["account", "portfolio"],
    description="Which members to list (default account).",
)
DETACH = OpenApiParameter(
    "detach",
    OpenApiTypes.STR,
    enum=["true", "false"],
    description="Take the members out and delete, in one transaction (else 409, 9001).",
)

# --------------------------------------------------------------------------- page bodies

_pages: dict[str, serializers.Serializer] = {}


def page_of(name: str, item: type[serializers.Serializer], *, cursor: bool = False):
    """The body of a list: ``{"items": [...], "page": 1, "limit": 10}`` (plus cursors)."""
    if name not in _pages:
        fields: dict[str, serializers.Field] = {
            "items": item(many=True),
            "page": serializers.IntegerField(required=not cursor),
            "limit": serializers.IntegerField(),
        }
        if cursor:
            fields["next_cursor"] = serializers.CharField(
                required=False, help_text="Follow with ?cursor= for the next page."
            )
            fields["prev_cursor"] = serializers.CharField(
                required=False, help_text="Follow with ?cursor= for the previous page."
            )
        _pages[name] = inline_serializer(name=name, fields=fields)
    return _pages[name]


# --------------------------------------------------------------------------- operations


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    *,
    success: dict[Any, Any],
    errors: Sequence[int],
    request: Any = None,
    parameters: Sequence[OpenApiParameter] = (),
    description: str = "",
):
    """``extend_schema`` for one operation, its errors as problem documents."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        tags=[tag],
        request=request,
        parameters=list(parameters),
        responses={**success, **problems(errors)},
    )


# --------------------------------------------------------------------------- schema plumbing

PATH_UUIDS = {
    "organization_id": "Organization ID (UUID).",
    "ledger_id": "Ledger ID (UUID).",
    "id": "The entity's ID (UUID).",
}


class ApiAutoSchema(AutoSchema):
    """Path ids are UUIDs (a malformed one answers 400, 0065) and every response carries
    ``X-Request-Id``. Request bodies are strict: no other properties but null ones (0053),
    the fields that the services require on create, only the changeable ones on update."""

    def _map_basic_serializer(self, serializer, direction) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        serializer = force_instance(serializer)
        # Any other key only as null: Midaz ignores a null key (serializers._refuse_unexpected).
        schema["additionalProperties"] = {"nullable": True, "enum": [None]}
        if getattr(serializer, "entity_model", None) is not None:
            update = is_patched_serializer(serializer, direction)
            writable = writable_fields(serializer, update=update)
            schema["properties"] = {
                name: value for name, value in schema["properties"].items() if name in writable
            }
            if not update:
                schema["required"] = sorted(required_fields(serializer))
        return schema

    def _get_parameters(self) -> list[dict[str, Any]]:
        """An empty query parameter is read as an absent one (``?sort_order=`` sorts by
        default), as the list functions do."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        for name, description in PATH_UUIDS.items():
            if f"{{{name}}}" in self.path:
                parameters.append(
                    OpenApiParameter(
                        name, OpenApiTypes.UUID, OpenApiParameter.PATH, description=description
                    )
                )
        parameters.append(REQUEST_ID)
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        return parameters


class ApiEndpointEnumerator(EndpointEnumerator):
    """Also documents ``HEAD`` where a view answers it on its own (the count routes)."""

    def get_allowed_methods(self, callback) -> list[str]:
        methods = super().get_allowed_methods(callback)
        view_class = getattr(callback, "cls", None)
        answers_head = view_class is not None and any(
            "head" in vars(klass) for klass in view_class.__mro__
        )
        if answers_head and "GET" not in methods:
            methods.append("HEAD")
        return methods


class ApiSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = ApiEndpointEnumerator


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "segments.api.authentication.BearerTokenAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <token>`.",
        }


# --------------------------------------------------------------------------- CRUD operations


def list_operation(
    label: str,
    plural: str,
    tag: str,
    item: type[serializers.Serializer],
    filters: Sequence[OpenApiParameter],
    *,
    cursor: bool = False,
    description: str = "",
):
    return operation(
        f"list{plural}",
        f"List {_words(plural)}",
        tag,
        success={200: OpenApiResponse(page_of(f"{label}Page", item, cursor=cursor))},
        errors=READ_ERRORS,
        parameters=[*LIST_PARAMETERS, *filters, TOTAL_COUNT],
        description=(description + METADATA_NOTE).strip(),
    )


def _words(label: str) -> str:
    """``OrganizationSegments`` → ``organization segments``."""
    return "".join(f" {char.lower()}" if char.isupper() else char for char in label).strip()


def _a(label: str) -> str:
    words = _words(label)
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


def create_operation(
    label: str,
    tag: str,
    item: type[serializers.Serializer],
    body: type[serializers.Serializer],
    description: str = "",
):
    return operation(
        f"create{label}",
        f"Create {_a(label)}",
        tag,
        request=body,
        success={201: OpenApiResponse(item)},
        errors=WRITE_ERRORS,
        parameters=[ETAG],
        description=description
        or "Answers 201 with the new entity and its ETag. Missing required fields: 0009; "
        "unknown or read-only fields: 0053; values of the wrong type: 0047.",
    )


def get_operation(label: str, tag: str, item: type[serializers.Serializer], **kwargs: Any):
    return operation(
        kwargs.pop("operation_id", f"get{label}ByID"),
        kwargs.pop("summary", f"Retrieve {_a(label)}"),
        tag,
        success={200: OpenApiResponse(item)},
        errors=READ_ERRORS,
        parameters=[ETAG, *kwargs.pop("parameters", ())],
        description=kwargs.pop("description", "The entity and its ETag."),
        **kwargs,
    )


def update_operation(
    label: str, tag: str, item: type[serializers.Serializer], body: type[serializers.Serializer]
):
    return operation(
        f"update{label}",
        f"Update {_a(label)}",
        tag,
        request=body,
        success={200: OpenApiResponse(item)},
        errors=WRITE_ERRORS,
        parameters=[ETAG, IF_MATCH],
        description=(
            "Only the fields sent change. `metadata` is a JSON Merge Patch (a key set to "
            'null is removed; `"metadata": null` removes all); a `status` without `code` '
            "keeps the code; a reference set to null is cleared."
        ),
    )


def delete_operation(
    label: str, tag: str, parameters: Sequence[OpenApiParameter] = (), description: str = ""
):
    return operation(
        f"delete{label}",
        f"Delete {_a(label)}",
        tag,
        success={204: OpenApiResponse(None, description="Deleted.")},
        errors=WRITE_ERRORS,
        parameters=[IF_MATCH, *parameters],
        description=description or "Soft delete: the entity disappears from every list.",
    )


def count_operation(plural: str, tag: str, filters: Sequence[OpenApiParameter] = ()):
    return operation(
        f"count{plural}",
        f"Count {_words(plural)}",
        tag,
        success={204: OpenApiResponse(None, description="The count is in X-Total-Count.")},
        errors=COUNT_ERRORS,
        parameters=[TOTAL_COUNT, *filters],
        description="No body: the count is in `X-Total-Count`. The list's filters apply.",
    )


DETACH_NOTE = (
    "A segment that still has members is refused (409, 9001, the counts in the message) "
    "unless `detach=true`: then its members are taken out and it is deleted, in one "
    "transaction."
)


def crud_docs(
    label: str,
    plural: str,
    tag: str,
    model: type[Entity],
    item: type[serializers.Serializer],
    body: type[serializers.Serializer],
    *,
    cursor: bool = False,
) -> dict[str, Any]:
    """The documentation of one collection's views: ``list`` (GET, POST), ``detail``
    (GET, PATCH, DELETE) and ``count`` (HEAD), as class decorators."""
    filters = FILTERS[model.entity_type]
    count_filters = [param for param in filters if param.name != "cursor"]
    delete_extras: dict[str, Any] = {}
    if model is Segment:
        delete_extras = {"parameters": [DETACH], "description": DETACH_NOTE}
    return {
        "list": extend_schema_view(
            get=list_operation(label, plural, tag, item, filters, cursor=cursor),
            post=create_operation(label, tag, item, body),
        ),
        "detail": extend_schema_view(
            get=get_operation(label, tag, item),
            patch=update_operation(label, tag, item, body),
            delete=delete_operation(label, tag, **delete_extras),
        ),
        "count": extend_schema_view(
            head=count_operation(plural, tag, [*LIST_PARAMETERS[2:], *count_filters])
        ),
    }


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "anyOf": [
                {"$ref": "#/components/schemas/Account"},
                {"$ref": "#/components/schemas/Portfolio"},
            ]
        },
    }
)
class MemberListField(serializers.ListField):
    """Accounts or portfolios, as ``kind`` asks."""


MEMBER_PAGE = inline_serializer(
    name="SegmentMemberPage",
    fields={
        "items": MemberListField(),
        "page": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
    },
)


def member_docs(label: str, tag: str) -> dict[str, Any]:
    """The documentation of a segment's ``members``, ``remove`` and ``history`` views;
    ``label`` is ``Segment`` (ledger level) or ``OrganizationSegment``."""
    return {
        "members": extend_schema_view(
            get=operation(
                f"list{label}Members",
                "List a segment's members",
                tag,
                success={
                    200: OpenApiResponse(
                        MEMBER_PAGE,
                        description="Accounts (`kind=account`, the default) or portfolios "
                        "(`kind=portfolio`).",
                    )
                },
                errors=READ_ERRORS,
                parameters=[MEMBER_KIND, *LIST_PARAMETERS, TOTAL_COUNT],
                description="The accounts or portfolios tagged with the segment.",
            ),
            post=operation(
                f"assign{label}Members",
                "Put accounts and portfolios into a segment",
                tag,
                request=MembersInputSerializer,
                success={200: OpenApiResponse(MembersAssignedSerializer)},
                errors=WRITE_ERRORS,
                description="All or nothing: every id must be a live account or portfolio "
                "that the segment may take, and the segment must be ACTIVE. At most 10,000 "
                "ids. Members of another segment move to this one.",
            ),
        ),
        "remove": extend_schema_view(
            post=operation(
                f"remove{label}Members",
                "Take accounts and portfolios out of a segment",
                tag,
                request=MembersInputSerializer,
                success={200: OpenApiResponse(MembersRemovedSerializer)},
                errors=WRITE_ERRORS,
                description="All or nothing: every id must be a member of this segment.",
            )
        ),
        "history": extend_schema_view(
            get=operation(
                f"list{label}History",
                "A segment's history",
                tag,
                success={
                    200: OpenApiResponse(page_of("SegmentHistoryPage", HistoryEntrySerializer))
                },
                errors=READ_ERRORS,
                parameters=[*LIST_PARAMETERS[:2], TOTAL_COUNT],
                description="Every change to the segment and its membership, newest first.",
            )
        ),
    }
