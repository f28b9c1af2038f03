"""Read-only answers about rules on the API: ``POST OL/segments/rules/preview`` (both
segment paths) with its job ``GET OL/segments/rules/previews/{preview_id}``
(``RulePreviewMixin`` of the segment viewsets), and ``GET OL/accounts/{id}/segment-
explanation`` (``SegmentExplanationMixin`` of the accounts viewset). The services decide
everything (``segments.services.preview``, ``segments.services.explanation``); tenancy
is the path's (another organization is 404 ``0007``) and any member, viewers included,
may ask: nothing is written, except the job of a preview that runs past its time."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from segments import errors
from segments.api import operations as docs
from segments.api.benefit_serializers import StrictIntegerField
from segments.api.parsing import parse_body
from segments.api.rules import RuleTextSerializer
from segments.api.serializers import TextUUIDField
from segments.ids import uuid_or_none
from segments.services.explanation import explain_account
from segments.services.preview import preview_job, preview_rule

JOB_STATUS_HELP = "`queued`, `running`, `done` or `failed`."

# --------------------------------------------------------------------------- bodies


class RulePreviewInputSerializer(RuleTextSerializer):
    segmentId = TextUUIDField(
        source="segment_id",
        required=False,
        help_text="The segment the rule is for (of this path's level): `wouldAdd` and "
        "`wouldRemove` are relative to its current rule members.",
    )
    priority = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="The rule's priority (lower wins); default: the segment's current one, "
        "else the rule ranks before every other.",
    )


class PreviewSampleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(allow_null=True)


class PreviewConflictSerializer(serializers.Serializer):
    segmentId = serializers.UUIDField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    overlapCount = serializers.IntegerField(
        help_text="The movable matches this segment's rule also matches."
    )


class RulePreviewSerializer(serializers.Serializer):
    matchCount = serializers.IntegerField(help_text="Live rows of the scope the rule matches.")
    sample = PreviewSampleSerializer(many=True, help_text="Up to 20 matches, oldest first.")
    wouldAdd = serializers.IntegerField()
    wouldRemove = serializers.IntegerField()
    pinnedExcluded = serializers.IntegerField(help_text="Matches pinned by hand: not taken.")
    conflicts = PreviewConflictSerializer(many=True)
    timeDependent = serializers.BooleanField(help_text="The rule reads `now`.")
    elapsedMs = serializers.IntegerField()


class RulePreviewJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text=JOB_STATUS_HELP)


class RulePreviewJobResultSerializer(RulePreviewJobSerializer):
    result = RulePreviewSerializer(allow_null=True, help_text="Null until `status` is `done`.")


class ClauseValueSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="A top-level clause of the rule, as written.")
    value = serializers.BooleanField(
        allow_null=True, help_text="Its value for the account; null: a CEL error (no match)."
    )


class SegmentCandidateSerializer(serializers.Serializer):
    segmentId = serializers.UUIDField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    matched = serializers.BooleanField()
    clauses = ClauseValueSerializer(many=True)
    lostTo = serializers.UUIDField(
        required=False,
        help_text="Present when the rule matched but another segment has the account: the "
        "lower-priority rule's that matched, or the one it is pinned to (`pinned`).",
    )


class SegmentExplanationSerializer(serializers.Serializer):
    accountId = serializers.UUIDField()
    segmentId = serializers.UUIDField(allow_null=True)
    segmentAssignedBy = serializers.CharField(allow_null=True, help_text="`manual`, `rule`.")
    pinned = serializers.BooleanField(help_text="Assigned by hand: no rule moves it.")
    candidates = SegmentCandidateSerializer(many=True)


def parse_preview_body(request: Request) -> dict[str, Any]:
    """``expression`` and ``subject`` (required), ``segment_id`` and ``priority``."""
    body = parse_body(RulePreviewInputSerializer, request.data)
    missing = [name for name in ("expression", "subject") if name not in body]
    if missing:
        raise errors.MissingFields.naming(missing)
    return body


# --------------------------------------------------------------------------- routes


class RulePreviewMixin:
    """``rules/preview`` and ``rules/previews/{preview_id}`` on a segment viewset (its
    ``scope`` reads the path's organization and ledger)."""

    # Alike in shape to the other @action routes (rules_preview_job below, api/views.py,
    # api/benefits.py, api/effective.py); kept apart because each declares its own method,
    # route and name, which DRF reads as the URL table, and its body answers another question.
    @action(
        detail=False,
        methods=["post"],
        url_path="rules/preview",
        url_name="rules-preview",
        name="Rules Preview",
    )
    def rules_preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scope = self.scope()
        answer = preview_rule(scope.organization, scope.ledger, **parse_preview_body(request))
        if answer.job is not None:
            return Response(answer.job, status=status.HTTP_202_ACCEPTED)
        return Response(answer.result)

    @action(
        detail=False,
        methods=["get"],
        url_path="rules/previews/(?P<preview_id>[^/]+)",
        url_name="rules-preview-job",
        name="Rules Preview Job",
    )
    def rules_preview_job(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scope = self.scope()
        job_id = uuid_or_none(kwargs["preview_id"])
        if job_id is None:
            raise errors.InvalidPathParameter(
                "Path parameter 'preview_id' must be a UUID.",
                fields={"preview_id": "must be a UUID"},
                values={"preview_id": kwargs["preview_id"][:64]},
            )
        return Response(preview_job(scope.organization, scope.ledger, job_id))


class SegmentExplanationMixin:
    """``segment-explanation`` on the accounts viewset (its ``get_object`` reads the
    account with its portfolio)."""

    @action(
        detail=True,
        methods=["get"],
        url_path="segment-explanation",
        url_name="segment-explanation",
        name="Segment Explanation",
    )
    def segment_explanation(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(explain_account(self.get_object()))


# --------------------------------------------------------------------------- documentation

PREVIEW_ID = OpenApiParameter(
    "preview_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The preview job's id."
)
PREVIEW_NOTE = (
    "Read-only; any member may ask. Counts are exact, over the live accounts (or "
    "portfolios) of the path's scope: `matchCount` what the rule matches, `pinnedExcluded` "
    "the matches pinned by hand (never taken), `wouldAdd`/`wouldRemove` what saving it for "
    "`segmentId` would change given the priorities (without `segmentId`: every movable "
    "match it wins, and 0), `conflicts` the other dynamic segments whose rules also match "
    "movable matches (a lower priority than the rule's takes them). The rule is checked "
    "before anything runs (400 `0047` naming the line, the column and the token); a "
    "`segmentId` not of this path's level is 404 `0036`. A preview that runs past "
    "`SEGMENTS_PREVIEW_TIMEOUT_MS` answers 202 with a job to read at "
    "`rules/previews/{preview_id}`."
)


# Alike in shape to refresh_docs (api/rules.py) and the other docs.operation tables; kept
# apart because each operation has its own id, summary, answers and description.
def preview_docs(label: str, tag: str) -> dict[str, Any]:
    """The documentation of the preview routes; ``label`` is ``Segment`` or
    ``OrganizationSegment``."""
    return {
        "rules_preview": docs.operation(
            f"preview{label}Rule",
            "What a rule would match and change",
            tag,
            request=RulePreviewInputSerializer,
            success={
                200: OpenApiResponse(RulePreviewSerializer),
                202: OpenApiResponse(
                    RulePreviewJobSerializer, description="Too long: it goes on as a job."
                ),
            },
            errors=docs.READ_ERRORS,
            description=PREVIEW_NOTE,
        ),
        "rules_preview_job": docs.operation(
            f"get{label}RulePreview",
            "A rule preview that went on as a job",
            tag,
            success={200: OpenApiResponse(RulePreviewJobResultSerializer)},
            errors=docs.READ_ERRORS,
            parameters=[PREVIEW_ID],
            description="`result` is the preview once `status` is `done`. A job of another "
            "organization or path level is 404 `0007`.",
        ),
    }


EXPLANATION_DOCS = {
    "segment_explanation": docs.operation(
        "getAccountSegmentExplanation",
        "Why an account is (or is not) in a dynamic segment",
        "Accounts",
        success={200: OpenApiResponse(SegmentExplanationSerializer)},
        errors=docs.READ_ERRORS,
        description="Every rule about accounts of the account's scope (its ledger's and its "
        "organization's, of live ACTIVE segments), lowest priority first: whether it "
        "matches, each top-level clause's value for the account (null: a CEL error, no "
        "match), and `lostTo` when it matched but the account is elsewhere — the "
        "lower-priority rule's segment, or the segment it is pinned to (`pinned`).",
    )
}
