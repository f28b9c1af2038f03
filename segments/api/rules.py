"""A dynamic segment's rule on the API: ``PUT``, ``GET`` and ``DELETE`` of ``S/rule`` on
both segment paths (``RuleMixin`` of the segment viewsets). The services decide
everything (``segments.services.rules``): a rule is checked before any SQL (400 ``0047``
naming the position and the token), its priority is unique in the organization (409
``9011``); a manual segment has no rule (404 ``0007``); ``DELETE`` needs ``keepMembers``
(``true``: the rule's members stay, pinned; ``false``: they leave). Changing the rule
needs the operator role, removing it the admin role, as deleting a segment does.

A rule change enqueues the refresh of its scope (the worker runs it): ``PUT`` answers with
``refresh: {id, status}``; ``POST S/refresh`` enqueues one by hand (202) and ``GET
S/refreshes/{id}`` follows its status and counts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from segments import errors, services
from segments.api import operations as docs
from segments.api.benefit_serializers import StrictIntegerField
from segments.api.parsing import parse_body
from segments.api.serializers import StrictCharField
from segments.ids import uuid_or_none
from segments.models import RuleRefresh, Segment, SegmentRule
from segments.tenancy import Action, authorize


# The two fields that say what a rule is, in a rule's body and in a preview's. (No
# docstring: the schema would show it as the description of both bodies.)
class RuleTextSerializer(serializers.Serializer):
    expression = StrictCharField(
        trim_whitespace=False,
        help_text="A CEL rule over the field catalogue (at most 2,000 characters).",
    )
    subject = StrictCharField(help_text="`account` or `portfolio`: what the rule chooses.")


class RuleInputSerializer(RuleTextSerializer):
    priority = StrictIntegerField(
        min_value=0,
        max_value=2**31 - 1,
        help_text="Unique among the dynamic segments of the organization; lower wins.",
    )


class RefreshReferenceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="`queued`, `running`, `done` or `failed`.")


class RefreshSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="`queued`, `running`, `done` or `failed`.")
    cause = serializers.CharField(help_text="`rule`, `requested`, `schedule` or `bulk`.")
    segmentId = serializers.UUIDField(source="segment_id", allow_null=True)
    ledgerId = serializers.UUIDField(
        source="ledger_id", allow_null=True, help_text="Null: every ledger of the organization."
    )
    subjects = serializers.ListField(child=serializers.CharField())
    scanned = serializers.IntegerField(help_text="Rows evaluated so far.")
    added = serializers.IntegerField(help_text="Rows that joined a segment so far.")
    removed = serializers.IntegerField(help_text="Rows that left a segment so far.")
    ruleVersion = serializers.IntegerField(source="rule_version", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    error = serializers.CharField(allow_null=True)

    def to_representation(self, instance: RuleRefresh) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["error"] = instance.error or None
        return data


class RuleSerializer(serializers.Serializer):
    expression = serializers.CharField()
    subject = serializers.CharField(help_text="`account` or `portfolio`.")
    priority = serializers.IntegerField()
    version = serializers.IntegerField(help_text="+1 on every change of the rule.")
    fieldsUsed = serializers.ListField(child=serializers.CharField(), source="fields_used")
    timeDependent = serializers.BooleanField(source="time_dependent")
    refresh = serializers.SerializerMethodField(
        help_text="The refresh this change enqueued (the latest one when nothing changed)."
    )

    @extend_schema_field(RefreshReferenceSerializer(allow_null=True))
    def get_refresh(self, rule: SegmentRule) -> dict[str, Any] | None:
        refresh = getattr(rule, "refresh", None)
        if refresh is None:
            return None
        return {"id": str(refresh.pk), "status": refresh.status}


KEEP_MEMBERS = OpenApiParameter(
    "keepMembers",
    str,
    required=True,
    enum=["true", "false"],
    description="`true`: the rule's members stay, as pinned manual members; `false`: they "
    "leave the segment (other rules may take them). Required.",
)


def keep_members(request: Request) -> bool:
    raw = (request.query_params.get("keepMembers") or "").strip().lower()
    if raw not in ("true", "false"):
        raise errors.MalformedQuery("Query parameter 'keepMembers' is required: true or false.")
    return raw == "true"


def rule_of(segment: Segment) -> SegmentRule:
    rule = SegmentRule.objects.filter(segment_id=segment.pk).first()
    if rule is None:
        raise errors.EntityNotFound(
            "The segment is manual: it has no rule.", entity_type="SegmentRule"
        )
    return rule


def parse_rule_body(request: Request) -> dict[str, Any]:
    """``expression``, ``subject`` and ``priority``, each of its JSON type (else 0047/0009)."""
    body = parse_body(RuleInputSerializer, request.data)
    missing = [name for name in RuleInputSerializer().fields if name not in body]
    if missing:
        raise errors.MissingFields.naming(missing)
    return body


class RuleMixin:
    """``S/rule`` on a segment viewset (its ``get_object`` reads the segment)."""

    @action(detail=True, methods=["get", "put", "delete"], name="Rule")
    def rule(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        if request.method in ("GET", "HEAD"):
            return Response(RuleSerializer(rule_of(segment)).data)
        if request.method == "DELETE":
            authorize(request.user, segment.organization_id, Action.DELETE)
            services.delete_rule(request.user, segment, keep_members=keep_members(request))
            return Response(status=status.HTTP_204_NO_CONTENT)
        authorize(request.user, segment.organization_id, Action.CHANGE)
        body = parse_rule_body(request)
        rule = services.put_rule(
            request.user, segment, body["expression"], body["subject"], body["priority"]
        )
        return Response(RuleSerializer(rule).data)

    @action(detail=True, methods=["post"], url_path="refresh", name="Refresh")
    def refresh(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        authorize(request.user, segment.organization_id, Action.CHANGE)
        refresh = services.request_refresh(request.user, segment)
        return Response(RefreshSerializer(refresh).data, status=status.HTTP_202_ACCEPTED)

    @action(
        detail=True,
        methods=["get"],
        url_path=r"refreshes/(?P<refresh_id>[^/]+)",
        name="Refresh status",
    )
    def refresh_status(self, request: Request, *args: Any, refresh_id: str, **kwargs: Any):
        segment = self.get_object()
        refresh = RuleRefresh.objects.filter(
            pk=uuid_or_none(refresh_id), segment_id=segment.pk
        ).first()
        if refresh is None:
            raise errors.EntityNotFound(
                "No refresh of this segment has that id.", entity_type="RuleRefresh"
            )
        return Response(RefreshSerializer(refresh).data)


RULE_NOTE = (
    "A dynamic segment's members are the accounts (or portfolios) its rule matches, "
    "except those assigned by hand (pinned); a member several rules match joins the lowest "
    "priority. Members are assigned only by rules: assigning one by hand is 422 `9010`."
)


def rule_docs(label: str, tag: str) -> dict[str, Any]:
    """The documentation of ``S/rule``; ``label`` is ``Segment`` or ``OrganizationSegment``."""
    rule = OpenApiResponse(RuleSerializer)
    return {
        "rule": [
            docs.operation(
                f"get{label}Rule",
                "A dynamic segment's rule",
                tag,
                methods=["GET"],
                success={200: rule},
                errors=docs.READ_ERRORS,
                description="404 `0007` for a manual segment. " + RULE_NOTE,
            ),
            docs.operation(
                f"put{label}Rule",
                "Make a segment dynamic, or change its rule",
                tag,
                methods=["PUT"],
                request=RuleInputSerializer,
                success={200: rule},
                errors=docs.WRITE_ERRORS,
                description="The rule is checked before anything runs (400 `0047` naming "
                "the line, the column and the token); a priority another dynamic segment "
                "of the organization has is 409 `9011`. The scope's members are "
                "re-evaluated by a background refresh, named in `refresh`. " + RULE_NOTE,
            ),
            docs.operation(
                f"delete{label}Rule",
                "Make a dynamic segment manual again",
                tag,
                methods=["DELETE"],
                success={204: OpenApiResponse(description="The rule was removed.")},
                errors=docs.WRITE_ERRORS,
                parameters=[KEEP_MEMBERS],
                description="`keepMembers` is required (400 `0082` without it).",
            ),
        ],
        **refresh_docs(label, tag),
    }


# Alike in shape to the docs.operation tables of api/benefits.py; kept apart because each
# operation has its own id, summary, answers and description.
def refresh_docs(label: str, tag: str) -> dict[str, Any]:
    """The documentation of ``S/refresh`` and ``S/refreshes/{id}``."""
    return {
        "refresh": docs.operation(
            f"refresh{label}Rule",
            "Re-evaluate a dynamic segment's scope now",
            tag,
            request=None,
            success={202: OpenApiResponse(RefreshSerializer)},
            errors=docs.WRITE_ERRORS,
            description="Enqueues a refresh of the rules of the segment's scope for the "
            "worker; follow it at `refreshes/{id}`. 404 `0007` for a manual segment. "
            "A refresh writes only the rows whose segment changes, in batches.",
        ),
        "refresh_status": docs.operation(
            f"get{label}Refresh",
            "A refresh's status and counts",
            tag,
            success={200: OpenApiResponse(RefreshSerializer)},
            errors=docs.READ_ERRORS,
            parameters=[
                OpenApiParameter("refresh_id", str, OpenApiParameter.PATH, description="Its id.")
            ],
            description="`queued`, `running` (with the counts so far), `done` or `failed` "
            "(with `error`). A refresh whose worker died is resumed where it stopped.",
        ),
    }
