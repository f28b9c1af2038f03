"""The rule of a dynamic segment: one per segment, at the segment's scope (its ledger, or
its whole organization). Its ``priority`` is unique among the rules of an organization
(both levels; 409 ``9011``): a member several rules match joins the lowest number.
Rules are removed outright when a segment turns manual again; the history keeps them.

A ``RuleRefresh`` is one re-evaluation of a scope's rules over all its members, run by the
worker (``segments.tasks``): its status and counts are written in each batch's
transaction, with the cursor the next batch starts from, so a refresh whose worker died
resumes exactly where its last committed batch ended."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from uuid6 import uuid7

from segments.models.entities import Ledger, Organization, Segment, actor_field


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
    actor = actor_field()
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


# Alike in shape to Status (models/entities.py) and the other TextChoices; kept apart
# because each is the value set of its own column, stored and shown as is.
class RefreshStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RefreshCause(models.TextChoices):
    RULE = "rule", "Rule changed"
    REQUESTED = "requested", "Requested"
    SCHEDULE = "schedule", "Time-dependent rules"
    BULK = "bulk", "Bulk load"


class RuleRefresh(models.Model):
    """One refresh of the rules of a scope: a ledger, or every ledger of the organization
    when ``ledger`` is null; ``segment`` is the segment whose rule (or request) caused it.
    ``cursor`` is where the refresh is: its current ``subject`` and that subject's
    ``lanes``, each ``[after, up to]`` (``services.refresh``; an earlier release wrote one
    ``after`` instead of lanes)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="rule_refreshes"
    )
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, null=True, blank=True, related_name="rule_refreshes"
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="refreshes"
    )
    subjects = models.JSONField(default=list)
    cause = models.CharField(max_length=10, choices=RefreshCause.choices)
    status = models.CharField(
        max_length=10, choices=RefreshStatus.choices, default=RefreshStatus.QUEUED
    )
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    scanned = models.PositiveBigIntegerField(default=0)
    added = models.PositiveBigIntegerField(default=0)
    removed = models.PositiveBigIntegerField(default=0)
    cursor = models.JSONField(null=True, blank=True)
    task_id = models.UUIDField(null=True, blank=True)
    error = models.TextField(blank=True)
    actor = actor_field()
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["status"],
                condition=Q(status__in=["queued", "running"]),
                name="rule_refresh_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"refresh {self.id} ({self.status})"
