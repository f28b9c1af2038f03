"""The documentation of every API operation (drf-spectacular ``extend_schema``): what it
answers, errors included.

Every operation documents its success body and headers (``X-Request-Id`` on every
response, ``X-Total-Count`` on lists and counts, ``ETag`` on single entities), its query
parameters (a list's come from its pagination class and FilterSet) and each error status
it can send as a problem document (``application/problem+json``, or ``application/json``
when asked). The schema machinery itself is ``segments.api.schema``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

from segments.api.pagination import PAGE_PARAMETERS
from segments.api.problems import JSON_CONTENT_TYPE, PROBLEM_CONTENT_TYPE
from segments.api.serializers import (
    AccountSerializer,
    HistoryEntrySerializer,
    MembersAssignedSerializer,
    MembersInputSerializer,
    MembersRemovedSerializer,
    SegmentSerializer,
)
from segments.api.shapes import SERIALIZERS
from segments.filters import AccountFilterSet, openapi_parameters
from segments.models import Entity


def entity_input_serializers() -> set[type[serializers.Serializer]]:
    return {body for _, body in SERIALIZERS.values()}


MEMBER_FILTERS = openapi_parameters(AccountFilterSet)

# --------------------------------------------------------------------------- problem body


class ProblemDetailSerializer(serializers.Serializer):
    location = serializers.CharField(help_text="The field, e.g. `status.code`.")
    message = serializers.CharField()
    value = serializers.JSONField(required=False, help_text="The value that was sent.")


@extend_schema_serializer(many=False)  # on a list route too, a problem is one object
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


def _response_header(name: str, kind: OpenApiTypes, statuses: list[int], description: str):
    return OpenApiParameter(
        name,
        kind,
        OpenApiParameter.HEADER,
        response=statuses,
        required=True,
        description=description,
    )


TOTAL_COUNT = _response_header(
    "X-Total-Count", OpenApiTypes.INT, [200, 204], "How many items match, over all pages."
)
ETAG = _response_header(
    "ETag",
    OpenApiTypes.STR,
    [200, 201],
    "The entity's version; send it back as If-Match to update safely.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Apply only if the entity's ETag is one of these (else 412, 9006).",
)

# --------------------------------------------------------------------------- query parameters

METADATA_NOTE = (
    "\n\nAlso filters by metadata: `metadata.<key>=<value>` matches entities whose "
    "metadata value for `<key>` has that text; combine freely with the other filters. "
    "No match is an empty page."
)
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


def operation_arguments(
    operation_id: str,
    summary: str,
    tag: str,
    *,
    success: dict[Any, Any],
    errors: Sequence[int],
    request: Any = None,
    parameters: Sequence[OpenApiParameter] = (),
    description: str = "",
) -> dict[str, Any]:
    """The ``extend_schema`` arguments of one operation, its errors as problem documents."""
    return {
        "operation_id": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "request": request,
        "parameters": list(parameters),
        "responses": {**success, **problems(errors)},
    }


def operation(
    operation_id: str, summary: str, tag: str, *, methods: list[str] | None = None, **kwargs: Any
):
    """``extend_schema`` for one operation (``operation_arguments``); ``methods`` when
    one action answers several."""
    return extend_schema(
        methods=methods, **operation_arguments(operation_id, summary, tag, **kwargs)
    )


# --------------------------------------------------------------------------- CRUD operations


def _words(label: str) -> str:
    """``OrganizationSegments`` → ``organization segments``."""
    return "".join(f" {char.lower()}" if char.isupper() else char for char in label).strip()


def _a(label: str) -> str:
    words = _words(label)
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


CREATE_NOTE = (
    "Answers 201 with the new entity and its ETag. Missing required fields: 0009; "
    "unknown or read-only fields: 0053; values of the wrong type: 0094."
)
UPDATE_NOTE = (
    "Only the fields sent change. `metadata` is a JSON Merge Patch (a key set to "
    'null is removed; `"metadata": null` removes all); a `status` without `code` '
    "keeps the code; a reference set to null is cleared."
)
DETACH_NOTE = (
    "A segment that still has members is refused (409, 9001, the counts in the message) "
    "unless `detach=true`: then its members are taken out and it is deleted, in one "
    "transaction."
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


def _delete_arguments(item: type[serializers.Serializer]) -> dict[str, Any]:
    if item is SegmentSerializer:
        return {"parameters": [IF_MATCH, DETACH], "description": DETACH_NOTE}
    return {
        "parameters": [IF_MATCH],
        "description": "Soft delete: the entity disappears from every list.",
    }


def _with_body(verb: str, label: str, tag: str, model: type[Entity], status: int, **kwargs: Any):
    """A create (201) or an update (200): the entity's input body, the entity back."""
    item, body = SERIALIZERS[model]
    return operation(
        f"{verb}{label}",
        f"{verb.capitalize()} {_a(label)}",
        tag,
        request=body,
        success={status: OpenApiResponse(item)},
        errors=WRITE_ERRORS,
        **kwargs,
    )


def _writes(label: str, tag: str, model: type[Entity]) -> dict[str, Any]:
    """The create, partial update and destroy operations of one entity."""
    item, _ = SERIALIZERS[model]
    return {
        "create": _with_body(
            "create", label, tag, model, 201, parameters=[ETAG], description=CREATE_NOTE
        ),
        "partial_update": _with_body(
            "update", label, tag, model, 200, parameters=[ETAG, IF_MATCH], description=UPDATE_NOTE
        ),
        "destroy": operation(
            f"delete{label}",
            f"Delete {_a(label)}",
            tag,
            success={204: OpenApiResponse(None, description="Deleted.")},
            errors=WRITE_ERRORS,
            **_delete_arguments(item),
        ),
    }


def _reads(label: str, plural: str, tag: str, model: type[Entity]) -> dict[str, Any]:
    """The list, retrieve and count operations of one entity. The list's and the count's
    query parameters come from the viewset's pagination class and FilterSet."""
    item, _ = SERIALIZERS[model]
    count = operation_arguments(
        f"count{plural}",
        f"Count {_words(plural)}",
        tag,
        success={204: OpenApiResponse(None, description="The count is in X-Total-Count.")},
        errors=COUNT_ERRORS,
        parameters=[TOTAL_COUNT],
        description="No body: the count is in `X-Total-Count`. The list's filters apply.",
    )
    return {
        "list": operation(
            f"list{plural}",
            f"List {_words(plural)}",
            tag,
            success={200: OpenApiResponse(item)},
            errors=READ_ERRORS,
            parameters=[TOTAL_COUNT],
            description=METADATA_NOTE.strip(),
        ),
        "retrieve": get_operation(label, tag, item),
        "count": extend_schema(filters=True, **count),  # not a list route: filters asked for
    }


def crud_docs(label: str, plural: str, tag: str, model: type[Entity]) -> dict[str, Any]:
    """The documentation of one entity's viewset actions, for ``extend_schema_view``:
    ``label`` names its operations (``listSegments``, ``createSegment`` …)."""
    return {**_reads(label, plural, tag, model), **_writes(label, tag, model)}


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


def _members(label: str, tag: str) -> list:
    """``GET`` and ``POST`` of a segment's ``members`` route."""
    return [
        operation(
            f"list{label}Members",
            "List a segment's members",
            tag,
            methods=["GET"],
            success={
                200: OpenApiResponse(
                    MEMBER_PAGE,
                    description="Accounts (`kind=account`, the default) or portfolios "
                    "(`kind=portfolio`).",
                )
            },
            errors=READ_ERRORS,
            parameters=[MEMBER_KIND, *PAGE_PARAMETERS, *MEMBER_FILTERS, TOTAL_COUNT],
            description="The accounts or portfolios tagged with the segment. The accounts "
            "list's filters apply (the portfolios list's with `kind=portfolio`).",
        ),
        operation(
            f"assign{label}Members",
            "Put accounts and portfolios into a segment",
            tag,
            methods=["POST"],
            request=MembersInputSerializer,
            success={200: OpenApiResponse(MembersAssignedSerializer)},
            errors=WRITE_ERRORS,
            description="All or nothing: every id must be a live account or portfolio "
            "that the segment may take, and the segment must be ACTIVE. At most 10,000 "
            "ids. Members of another segment move to this one.",
        ),
    ]


def member_docs(label: str, tag: str) -> dict[str, Any]:
    """The documentation of a segment's ``members`` (list, assign), ``members/remove``
    and ``history`` actions; ``label`` is ``Segment`` (ledger level) or
    ``OrganizationSegment``."""
    return {
        "members": _members(label, tag),
        "remove_members": operation(
            f"remove{label}Members",
            "Take accounts and portfolios out of a segment",
            tag,
            request=MembersInputSerializer,
            success={200: OpenApiResponse(MembersRemovedSerializer)},
            errors=WRITE_ERRORS,
            description="All or nothing: every id must be a member of this segment.",
        ),
        "history": operation(
            f"list{label}History",
            "A segment's history",
            tag,
            success={200: OpenApiResponse(page_of("SegmentHistoryPage", HistoryEntrySerializer))},
            errors=READ_ERRORS,
            parameters=[*PAGE_PARAMETERS, TOTAL_COUNT],
            description="Every change to the segment and its membership, newest first.",
        ),
    }


ACCOUNT_LOOKUPS = {
    "by_alias": get_operation(
        "Account",
        "Accounts",
        AccountSerializer,
        operation_id="getAccountByAlias",
        summary="Retrieve an account by alias",
    ),
    "by_external_code": get_operation(
        "Account",
        "Accounts",
        AccountSerializer,
        operation_id="getAccountExternalByCode",
        summary="Retrieve an external account by code",
        description="The account whose alias is `@external/{code}`.",
    ),
}
