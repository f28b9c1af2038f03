"""The events outbox: one ``Event`` row per change other systems must learn about, written
by the services in the transaction of the change (``segments.services.events``) and sent
to the broker by the relay (``segments.relay``). See ``shared/spec/events.md``.

**Per subject, ids increase in commit order.** The id (a UUIDv7, also the CloudEvents
``id``) is not a column default: ``services.events`` makes it at insert, inside the
transaction, *after* the service took the lock it already holds on the subject (the
changed row ``FOR UPDATE``; a segment's membership: the segment, ``segments.locking``), and
never below the subject's latest event (read under that lock): a later change of the same
subject waits for that lock, so it reads this row and gets a greater id, whatever the
clocks of two processes say within one millisecond. A new row has no earlier event.

Rows are never updated but by the relay (status, attempts, backoff, publication) and by
the admin's retry of dead rows (``services.events.retry_dead_events``, which records who
retried), and removed only by ``prune_events`` (published ones past the retention period).

``txid`` is the transaction that wrote the row (``models.transactions``): the one of the
segment history entry of the same change, which is how the history tells whether its
change's events went out (``segments.event_delivery``).
"""

from __future__ import annotations

from django.db import models

from segments.models.entities import Organization
from segments.models.transactions import transaction_field


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUBLISHED = "published", "Published"
    DEAD = "dead", "Dead"


class Event(models.Model):
    """One CloudEvent waiting for, or done with, the broker: ``key`` is its routing key
    (``segment.created``), ``subject`` the aggregate's id, ``time`` the change's instant,
    ``data`` its payload (the spec's key set, no metadata)."""

    id = models.UUIDField(primary_key=True, editable=False)
    # No foreign key constraint: its check would take ``FOR KEY SHARE`` on the
    # organization in every write, waiting for any organization update in flight;
    # organizations are never removed (soft delete), so the reference always resolves.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    key = models.CharField(max_length=100)
    subject = models.CharField(max_length=100)
    time = models.DateTimeField()
    data = models.JSONField()
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    txid = transaction_field()
    retried_by = models.CharField(max_length=150, null=True, blank=True)
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        permissions = [("retry_event", "Can retry dead events")]
        indexes = [
            # the relay's claim: pending rows in id order
            models.Index(fields=["status", "id"], name="event_status_id"),
            # the feed: an organization's events after an id
            models.Index(fields=["organization", "id"], name="event_organization_id"),
            # the subject's latest event (ids per subject) and its earlier pending ones
            models.Index(fields=["subject", "id"], name="event_subject_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=EventStatus.values), name="event_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.subject} ({self.status})"
