"""What a segment grants: ``Benefit`` (typed ``parameters``, a validity window, a priority,
an exclusivity group) and ``BenefitVersion``, every state a benefit has been in, so that
its state at any instant can be answered. See ``shared/spec/benefits.md``.

A benefit's organization and ledger are its segment's (``ledger`` null for an
organization-level segment); they never change. Names are unique, case-insensitively,
among the live benefits of a segment (the database says so: 9013). The rules of the
parameters are ``segments.benefit_kinds``; every other rule is the services'.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from uuid6 import uuid7

from segments.models.entities import Entity, Ledger, Organization, Segment, Status, actor_field
from segments.validators import validate_text


# Alike in shape to HistoryAction and the other TextChoices; kept apart because each is the
# value set of its own column.
class BenefitKind(models.TextChoices):
    FEE_WAIVER = "feeWaiver", "Fee waiver"
    FEE_DISCOUNT = "feeDiscount", "Fee discount"
    CASHBACK = "cashback", "Cashback"
    RATE_BONUS = "rateBonus", "Rate bonus"
    POINTS_MULTIPLIER = "pointsMultiplier", "Points multiplier"
    SERVICE = "service", "Service"
    CUSTOM = "custom", "Custom"


DEFAULT_PRIORITY = 100

# The fields whose every change makes a new version (``version`` + 1, one
# ``BenefitVersion`` row): what decides whether and how the benefit applies.
VERSIONED_FIELDS = (
    "kind",
    "parameters",
    "valid_from",
    "valid_until",
    "status_code",
    "status_description",
    "priority",
    "exclusivity_group",
)


class Benefit(Entity):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="benefits"
    )
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, null=True, blank=True, related_name="benefits"
    )
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="benefits")
    name = models.CharField(max_length=256, validators=[validate_text])
    description = models.CharField(
        max_length=1000, null=True, blank=True, validators=[validate_text]
    )
    kind = models.CharField(max_length=32, choices=BenefitKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveIntegerField(default=DEFAULT_PRIORITY)
    exclusivity_group = models.CharField(
        max_length=100, null=True, blank=True, validators=[validate_text]
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    entity_type = "Benefit"

    class Meta:
        ordering = ["priority", "created_at", "id"]
        constraints = [
            Entity.status_check("benefit"),
            Entity.name_unique("benefit", "segment"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="benefit_window_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=BenefitKind.values), name="benefit_kind_valid"
            ),
        ]
        indexes = [Entity.live_index("benefit_live_segment_created", "segment")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_organization_level(self) -> bool:
        return self.ledger_id is None


class BenefitVersion(models.Model):
    """A benefit as it was from ``created_at`` until its next version: the versioned
    fields, who made the change and when."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=32, choices=BenefitKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    status_code = models.CharField(max_length=100, choices=Status.choices)
    status_description = models.CharField(max_length=256, null=True, blank=True)
    priority = models.PositiveIntegerField()
    exclusivity_group = models.CharField(max_length=100, null=True, blank=True)
    actor = actor_field()
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["benefit", "version"], name="benefit_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.benefit_id} v{self.version}"
