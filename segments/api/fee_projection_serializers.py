"""The JSON shape of a segment's Midaz fee projection (``segments.fee_projection``): the
answer, its fragments (one shape per kind, a ``oneOf`` discriminated by ``kind`` in the
OpenAPI document) and the fee benefits left out. Decimals are strings, as in Midaz."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from segments.benefit_kinds import ASSET_CODE, DECIMAL
from segments.fee_projection import FeeProjection
from segments.models import BenefitKind

SEGMENT_ACCOUNTS = {
    "type": "string",
    "pattern": "^segment:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "description": "Every account of the segment: `segment:<segment id>`.",
}


@extend_schema_field(DECIMAL)
class DecimalTextField(serializers.CharField):
    """A decimal as text ("2.5"), never a JSON number."""


@extend_schema_field(SEGMENT_ACCOUNTS)
class SegmentAccountsField(serializers.CharField):
    """A Midaz ``waivedAccounts`` entry naming every account of a segment."""


@extend_schema_field({**ASSET_CODE, "nullable": True})
class AssetCodeField(serializers.CharField):
    """An asset code (BRL), or null."""


class FeeCalculationSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["percentage", "flat"])
    value = DecimalTextField()


class FeeCalculationModelSerializer(serializers.Serializer):
    """A Midaz fee's `calculationModel`."""

    applicationRule = serializers.ChoiceField(choices=["percentual", "flatFee"])
    calculations = FeeCalculationSerializer(many=True)


class FeeFragmentSerializer(serializers.Serializer):
    """What every fragment says of the benefit it comes from (its version at `at`)."""

    kind_value: str = ""  # the `kind` of the fragments of this shape (the OpenAPI enum)

    benefitId = serializers.UUIDField()
    benefitName = serializers.CharField()
    benefitVersion = serializers.IntegerField()
    kind = serializers.CharField()
    transactionRoute = serializers.CharField(
        allow_null=True, help_text="The packages of this route only; null: of every route."
    )
    validFrom = serializers.DateTimeField(allow_null=True)
    validUntil = serializers.DateTimeField(allow_null=True)


class FeeWaiverFragmentSerializer(FeeFragmentSerializer):
    """Add `waivedAccounts` to the packages (of `transactionRoute`) holding the fees
    `feeKeys`: the segment's accounts are not charged them."""

    kind_value = BenefitKind.FEE_WAIVER.value

    waivedAccounts = serializers.ListField(child=SegmentAccountsField())
    feeKeys = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The fees waived; null: every fee of the package.",
    )


class FeeDiscountFragmentSerializer(FeeFragmentSerializer):
    """A package scoped by `segmentId` whose fee is the discount: a percentage
    (`percentual`) or an amount of `assetCode` (`flatFee`)."""

    kind_value = BenefitKind.FEE_DISCOUNT.value

    segmentId = serializers.UUIDField()
    calculationModel = FeeCalculationModelSerializer()
    assetCode = AssetCodeField(allow_null=True, help_text="For an amount; null for a percentage.")


FRAGMENT_SERIALIZERS: dict[str, type[FeeFragmentSerializer]] = {
    serializer.kind_value: serializer
    for serializer in (FeeWaiverFragmentSerializer, FeeDiscountFragmentSerializer)
}
FRAGMENT_SCHEMA = PolymorphicProxySerializer(
    component_name="MidazFeeFragment",
    serializers=FRAGMENT_SERIALIZERS,
    resource_type_field_name="kind",
    many=True,
)


@extend_schema_field(FRAGMENT_SCHEMA)
class FeeFragmentListField(serializers.ListField):
    """Fragments of any kind, each rendered by its kind's serializer."""

    def to_representation(self, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [FRAGMENT_SERIALIZERS[item["kind"]](item).data for item in data]


class NotProjectedSerializer(serializers.Serializer):
    benefitId = serializers.UUIDField()
    name = serializers.CharField()
    reason = serializers.CharField(
        help_text="`expired`, `notYetValid`, `inactive` or `outrankedBy:<benefit id>`."
    )


class MidazFeeProjectionSerializer(serializers.Serializer):
    """The Midaz fee-package fragments that reproduce the segment's fee waivers and
    discounts at `at`, and the fee benefits that do not apply then."""

    segmentId = serializers.UUIDField()
    at = serializers.DateTimeField()
    items = FeeFragmentListField()
    notProjected = NotProjectedSerializer(many=True)


def projection_body(projection: FeeProjection) -> dict[str, Any]:
    """The JSON of a ``FeeProjection`` (``MidazFeeProjectionSerializer``)."""
    data = {
        "segmentId": projection.segment.pk,
        "at": projection.at,
        "items": projection.fragments,
        "notProjected": [
            {
                "benefitId": skipped.benefit.pk,
                "name": skipped.benefit.benefit.name,
                "reason": skipped.reason,
            }
            for skipped in projection.not_projected
        ],
    }
    return MidazFeeProjectionSerializer(data).data
