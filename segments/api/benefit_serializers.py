"""The JSON shapes of benefits: a benefit, its versions, its create/update body, and the
"effective benefits" answer (``segments.effective_benefits``). ``parameters`` are
documented per kind, as the ``oneOf`` of ``benefit_kinds.PARAMETER_SCHEMAS``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segments.api.rows import datetime_formatter
from segments.api.serializers import (
    EntityInputSerializer,
    EntitySerializer,
    MetadataField,
    OnlyJSONTypeMixin,
    StatusSerializer,
    TextUUIDField,
    _text,
)
from segments.benefit_kinds import KINDS
from segments.effective_benefits import BenefitAt, Effective, NotApplied
from segments.filters import as_utc
from segments.models import Benefit, BenefitKind

RESOLVE_MAX = 1000

PARAMETERS_SCHEMA = {
    "type": "object",
    "description": "What the benefit grants; the shape is the `kind`'s "
    '(`benefit_kinds`). Amounts, percentages and multipliers are decimal strings ("2.5").',
}


@extend_schema_field(PARAMETERS_SCHEMA)
class ParametersField(MetadataField):
    """A JSON object, nested or not; its rules are the kind's (``benefit_kinds``), checked
    by the services."""

    json_type = "object"


class StrictDateTimeField(OnlyJSONTypeMixin, serializers.DateTimeField):
    """An ISO 8601 instant given as text (UTC when it names no offset)."""

    json_types = (str,)

    def to_internal_value(self, data: Any):
        text = OnlyJSONTypeMixin.to_internal_value(self, data)
        try:
            return as_utc(serializers.DateTimeField.to_internal_value(self, text))
        except OverflowError:
            self.fail("invalid", format="ISO 8601")


class StrictIntegerField(OnlyJSONTypeMixin, serializers.IntegerField):
    """A whole JSON number (not ``true``, not ``"5"``, not ``5.5``)."""

    json_types = (int,)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        return serializers.IntegerField.to_internal_value(
            self, OnlyJSONTypeMixin.to_internal_value(self, data)
        )


class BenefitSerializer(EntitySerializer):
    """A benefit of a segment. `ledgerId` is null for an organization-level segment's."""

    organizationId = serializers.UUIDField(source="organization_id")
    ledgerId = serializers.UUIDField(source="ledger_id", allow_null=True)
    segmentId = serializers.UUIDField(source="segment_id")
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    kind = serializers.ChoiceField(choices=BenefitKind.values)
    parameters = ParametersField()
    validFrom = serializers.DateTimeField(source="valid_from", allow_null=True)
    validUntil = serializers.DateTimeField(source="valid_until", allow_null=True)
    priority = serializers.IntegerField(help_text="Lower wins within an exclusivity group.")
    exclusivityGroup = serializers.CharField(source="exclusivity_group", allow_null=True)
    version = serializers.IntegerField(help_text="+1 on every change of a versioned field.")


class BenefitInputSerializer(EntityInputSerializer):
    entity_model = Benefit

    name = _text(Benefit, "name")
    description = _text(Benefit, "description")
    kind = serializers.ChoiceField(choices=BenefitKind.values, required=False, allow_null=True)
    parameters = ParametersField(required=False, allow_null=True)
    validFrom = StrictDateTimeField(source="valid_from")
    validUntil = StrictDateTimeField(source="valid_until")
    priority = StrictIntegerField(min_value=0, help_text="≥ 0, default 100; lower wins.")
    exclusivityGroup = _text(Benefit, "exclusivity_group")


class BenefitVersionSerializer(serializers.Serializer):
    """A benefit as it was from `createdAt` until its next version."""

    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=BenefitKind.values)
    parameters = ParametersField()
    validFrom = serializers.DateTimeField(source="valid_from", allow_null=True)
    validUntil = serializers.DateTimeField(source="valid_until", allow_null=True)
    status = StatusSerializer(source="*")
    priority = serializers.IntegerField()
    exclusivityGroup = serializers.CharField(source="exclusivity_group", allow_null=True)
    actor = serializers.CharField(source="actor_name")
    createdAt = serializers.DateTimeField(source="created_at")


class ResolveInputSerializer(serializers.Serializer):
    """Accounts of the ledger whose effective benefits to answer, at one instant."""

    accountIds = serializers.ListField(
        child=TextUUIDField(), max_length=RESOLVE_MAX, help_text="At most 1,000 ids."
    )
    at = StrictDateTimeField(help_text="Default: now.")


# --------------------------------------------------------------------------- effective


class EffectiveSegmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=["ledger", "organization"])
    resolvedVia = serializers.ChoiceField(choices=["account", "portfolio"])
    assignedBy = serializers.ChoiceField(choices=["manual", "rule"])


class AppliedBenefitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    version = serializers.IntegerField()
    parameters = ParametersField()
    validFrom = serializers.DateTimeField(allow_null=True)
    validUntil = serializers.DateTimeField(allow_null=True)
    priority = serializers.IntegerField()
    exclusivityGroup = serializers.CharField(allow_null=True)


# Alike in shape to NotProjectedSerializer (api/fee_projection_serializers.py); kept apart
# because they are two API bodies: this one names the benefit `id`, that one `benefitId`.
class NotAppliedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    reason = serializers.CharField(
        help_text="`expired`, `notYetValid`, `inactive` or `outrankedBy:<benefit id>`."
    )


class EffectiveBenefitsSerializer(serializers.Serializer):
    """What one account (or portfolio) gets at `at`, and why the others do not apply."""

    accountId = serializers.UUIDField(required=False)
    portfolioId = serializers.UUIDField(required=False)
    at = serializers.DateTimeField()
    segment = EffectiveSegmentSerializer(allow_null=True)
    items = AppliedBenefitSerializer(many=True)
    notApplied = NotAppliedSerializer(many=True)


class ResolvedSerializer(serializers.Serializer):
    items = EffectiveBenefitsSerializer(many=True)
    notFound = serializers.ListField(child=serializers.UUIDField())


# Alike in shape to _counts (services/refresh.py) and rule_snapshot (services/rules.py):
# all build a dict from attributes; kept apart because the keys, objects and readers differ.
def _applied(candidate: BenefitAt) -> dict[str, Any]:
    return {
        "id": candidate.pk,
        "name": candidate.name,
        "kind": candidate.kind,
        "version": candidate.version,
        "parameters": candidate.parameters,
        "validFrom": candidate.valid_from,
        "validUntil": candidate.valid_until,
        "priority": candidate.priority,
        "exclusivityGroup": candidate.exclusivity_group,
    }


def _segment(answer: Effective) -> dict[str, Any] | None:
    if answer.segment is None:
        return None
    return {
        "id": answer.segment.pk,
        "name": answer.segment.name,
        "level": "organization" if answer.segment.is_organization_level else "ledger",
        "resolvedVia": answer.resolved_via,
        "assignedBy": answer.assigned_by,
    }


def effective_data(answer: Effective, subject_key: str = "accountId") -> dict[str, Any]:
    """One ``Effective`` answer as ``EffectiveBenefitsSerializer`` reads it (the reference
    of ``effective_bodies``); ``subject_key`` names the subject's id (``accountId`` or
    ``portfolioId``)."""
    return {
        subject_key: answer.subject.pk,
        "at": answer.at,
        "segment": _segment(answer),
        "items": [_applied(candidate) for candidate in answer.items],
        "notApplied": [
            {"id": skipped.benefit.pk, "name": skipped.benefit.name, "reason": skipped.reason}
            for skipped in answer.not_applied
        ],
    }


def effective_bodies(answers: Iterable[Effective], subject_key: str = "accountId") -> list[dict]:
    """The JSON of each answer: exactly what ``EffectiveBenefitsSerializer`` yields for its
    ``effective_data`` (same keys, order and values), built by plain code — a resolve of
    1,000 accounts through the serializer's field machinery took ~0.5 s. Answers that
    share their lists (``effective_benefits`` gives one segment's answers the same) share
    their JSON too. The serializer stays the reference and the schema;
    ``tests/api/test_effective_body`` checks both agree."""
    iso = datetime_formatter()
    lists: dict[int, list[dict[str, Any]]] = {}

    def once(entries: list, build) -> list[dict[str, Any]]:
        if id(entries) not in lists:
            lists[id(entries)] = [build(entry, iso) for entry in entries]
        return lists[id(entries)]

    bodies = []
    for answer in answers:
        segment = _segment(answer)
        if segment is not None:
            segment.update(id=str(segment["id"]), name=str(segment["name"]))
        bodies.append(
            {
                subject_key: str(answer.subject.pk),
                "at": iso(answer.at),
                "segment": segment,
                "items": once(answer.items, _applied_json),
                "notApplied": once(answer.not_applied, _not_applied_json),
            }
        )
    return bodies


def _not_applied_json(skipped: NotApplied, iso) -> dict[str, Any]:
    return {
        "id": str(skipped.benefit.pk),
        "name": str(skipped.benefit.name),
        "reason": skipped.reason,
    }


def _applied_json(candidate: BenefitAt, iso) -> dict[str, Any]:
    group = candidate.exclusivity_group
    return {
        "id": str(candidate.pk),
        "name": str(candidate.name),
        "kind": candidate.kind,
        "version": int(candidate.version),
        "parameters": dict(candidate.parameters or {}),
        "validFrom": iso(candidate.valid_from),
        "validUntil": iso(candidate.valid_until),
        "priority": int(candidate.priority),
        "exclusivityGroup": None if group is None else str(group),
    }


def effective_body(answer: Effective, subject_key: str = "accountId") -> dict[str, Any]:
    """The JSON of one ``Effective`` answer (``effective_bodies``)."""
    [body] = effective_bodies([answer], subject_key)
    return body
