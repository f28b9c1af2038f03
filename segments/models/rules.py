"""The rule of a dynamic segment: one per segment, at the segment's scope (its ledger, or
its whole organization). Its ``priority`` is unique among the rules of an organization
(both levels; 409 ``9011``): a member several rules match joins the lowest number.
Rules are removed outright when a segment turns manual again; the history keeps them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from segments.models.entities import Ledger, Organization, Segment


class RuleSubject(models.TextChoices):
    ACCOUNT = "account", "Account"
    PORTFOLIO = "portfolio", "Portfolio"


class SegmentRule(models.Model):
    """A checked CEL rule (``segments.rules``) and what it reads, versioned: each change
    of the expression, subject or priority adds one to ``version``."""

    segment = models.OneToOneField(Segment, on_delete=models.PROTECT, related_name="rule")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="segment_rules"
    )
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, null=True, blank=True, related_name="segment_rules"
    )
    expression = models.TextField()
    subject = models.CharField(max_length=10, choices=RuleSubject.choices)
    priority = models.PositiveIntegerField()
    version = models.PositiveIntegerField(default=1)
    fields_used = models.JSONField(default=list)
    time_dependent = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "priority"],
                name="segment_rule_priority_unique_per_organization",
                violation_error_code="duplicate_rule_priority",
            ),
            models.CheckConstraint(
                condition=Q(subject__in=RuleSubject.values), name="segment_rule_subject_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} #{self.priority}: {self.expression[:60]}"
