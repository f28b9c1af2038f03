"""The JSON shapes of benefits: a benefit, its versions, its create/update body, and the
"effective benefits" answer (``segments.effective_benefits``). ``parameters`` are
documented per kind, as the ``oneOf`` of ``benefit_kinds.PARAMETER_SCHEMAS``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
from segments.effective_benefits import BenefitAt, Effective
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


def _applied(candidate: BenefitAt) -> dict[str, Any]:
    return {
        "id": candidate.pk,
        "name": candidate.benefit.name,
        "kind": candidate.kind,
        "version": candidate.version,
        "parameters": candidate.parameters,
        "validFrom": candidate.valid_from,
        "validUntil": candidate.valid_until,
        "priority": candidate.priority,
        "exclusivityGroup": candidate.exclusivity_group,
    }


def effective_body(answer: Effective, subject_key: str = "accountId") -> dict[str, Any]:
    """The JSON of one ``Effective`` answer (``EffectiveBenefitsSerializer``);
    ``subject_key`` names the subject's id (``accountId`` or ``portfolioId``)."""
    segment = None
    if answer.segment is not None:
        segment = {
            "id": answer.segment.pk,
            "name": answer.segment.name,
            "level": "organization" if answer.segment.is_organization_level else "ledger",
            "resolvedVia": answer.resolved_via,
            "assignedBy": answer.assigned_by,
        }
    data = {
        subject_key: answer.subject.pk,
        "at": answer.at,
        "segment": segment,
        "items": [_applied(candidate) for candidate in answer.items],
        "notApplied": [
            {
                "id": skipped.benefit.pk,
                "name": skipped.benefit.benefit.name,
                "reason": skipped.reason,
            }
            for skipped in answer.not_applied
        ],
    }
    return EffectiveBenefitsSerializer(data).data
