"""A segment's fee benefits as Midaz fee-package fragments: the one query function behind
``GET …/segments/{segment}/benefits/midaz-fee-projection``.

Midaz changes money for a segment only through fee packages: a package scoped by
``segmentId`` (its fees apply to the segment's accounts) and a package's
``waivedAccounts: ["segment:<uuid>"]`` (its fees are not charged to them). It has no
validity window and no versions, so the projection is the state at one instant ``at``
(default now):

1. the candidates are the segment's live benefits, each as of its version at ``at``;
2. which apply is the effective-benefits rule (``effective_benefits.choose``: ACTIVE,
   ``at`` inside the window, one per exclusivity group), decided among *all* the
   segment's benefits, since a cashback may outrank a fee waiver of its group;
3. of those, only ``feeWaiver`` and ``feeDiscount`` are projected: a waiver as the
   ``waivedAccounts`` entry to add to the packages of its ``transactionRoute`` whose
   fees are its ``feeKeys`` (none named: every fee of the package), a discount as a
   package scoped by ``segmentId`` whose one fee is the discount (``percentual`` for a
   percentage, ``flatFee`` for an amount of an ``assetCode``). Decimals stay the
   decimal strings of the parameters;
4. the fee benefits that do not apply are ``not_projected`` with the effective-benefits
   reason (``expired``, ``notYetValid``, ``inactive``, ``outrankedBy:<id>``); other kinds
   are not mentioned.

It reads one query (``effective_benefits.benefits_at``), whatever the number of benefits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from segments.effective_benefits import BenefitAt, NotApplied, benefits_at, choose
from segments.models import BenefitKind, Segment

FEE_KINDS = (BenefitKind.FEE_WAIVER, BenefitKind.FEE_DISCOUNT)


@dataclass
class FeeProjection:
    """The fragments that reproduce ``segment``'s fee benefits at ``at``, and the fee
    benefits left out with their reasons."""

    segment: Segment
    at: dt.datetime
    fragments: list[dict[str, Any]] = field(default_factory=list)
    not_projected: list[NotApplied] = field(default_factory=list)


def waived_account(segment: Segment) -> str:
    """How a Midaz package's ``waivedAccounts`` names every account of the segment."""
    return f"segment:{segment.pk}"


def fee_projection(segment: Segment, at: dt.datetime | None = None) -> FeeProjection:
    """The Midaz fee-package fragments of ``segment``'s fee benefits that apply at ``at``
    (default now), in priority order; one query."""
    at = at or timezone.now()
    candidates = benefits_at([segment.pk], at).get(segment.pk, [])
    applied, not_applied = choose(candidates, at)
    return FeeProjection(
        segment=segment,
        at=at,
        fragments=[fragment(segment, c) for c in applied if c.kind in FEE_KINDS],
        not_projected=[skipped for skipped in not_applied if skipped.benefit.kind in FEE_KINDS],
    )


def fragment(segment: Segment, benefit: BenefitAt) -> dict[str, Any]:
    """The fragment of one fee benefit (as of its version at the instant)."""
    parameters = benefit.parameters
    common = {
        "benefitId": benefit.pk,
        "benefitName": benefit.benefit.name,
        "benefitVersion": benefit.version,
        "kind": benefit.kind,
        "transactionRoute": parameters.get("transactionRoute"),
        "validFrom": benefit.valid_from,
        "validUntil": benefit.valid_until,
    }
    if benefit.kind == BenefitKind.FEE_WAIVER:
        return {
            **common,
            "waivedAccounts": [waived_account(segment)],
            "feeKeys": parameters.get("feeKeys"),
        }
    return {
        **common,
        "segmentId": segment.pk,
        "calculationModel": calculation_model(parameters),
        "assetCode": parameters.get("assetCode") if "amount" in parameters else None,
    }


def calculation_model(discount: dict[str, Any]) -> dict[str, Any]:
    """A Midaz fee's ``calculationModel`` for a discount's parameters: a percentage is
    ``percentual``, an amount a ``flatFee``."""
    if "percentage" in discount:
        rule, calculation = "percentual", {"type": "percentage", "value": discount["percentage"]}
    else:
        rule, calculation = "flatFee", {"type": "flat", "value": discount["amount"]}
    return {"applicationRule": rule, "calculations": [calculation]}
