"""The five entities of the onboarding domain, tenancy memberships, API tokens, segment
history and idempotency keys. See ``shared/spec/domain.md``.

Rows are never removed: ``deleted_at`` marks a soft delete. ``objects`` shows live
rows only; ``all_objects`` shows every row (audit, admin restore).
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from uuid6 import uuid7

from segments.indexes import TrigramIndex
from segments.models.transactions import transaction_field
from segments.validators import (
    validate_address,
    validate_alias,
    validate_asset_code,
    validate_metadata,
    validate_text,
)


class Status(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"
    PENDING = "PENDING", "Pending"
    SUSPENDED = "SUSPENDED", "Suspended"


class LiveQuerySet(models.QuerySet):
    """``.live()`` / ``.deleted()``: the soft-delete filter, written once."""

    def live(self) -> LiveQuerySet:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> LiveQuerySet:
        return self.filter(deleted_at__isnull=False)


class LiveManager(models.Manager.from_queryset(LiveQuerySet)):
    """Hides soft-deleted rows: what every list, count, lookup and select uses."""

    def get_queryset(self) -> LiveQuerySet:
        return super().get_queryset().live()


class AllRowsManager(models.Manager.from_queryset(LiveQuerySet)):
    """Every row, deleted ones included (audit, restore)."""


class Entity(models.Model):
    """Fields common to the five entities: UUIDv7 id, status, flat metadata, timestamps and
    soft delete."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    status_code = models.CharField(
        "status", max_length=100, choices=Status.choices, default=Status.ACTIVE
    )
    status_description = models.CharField(
        "status description", max_length=256, null=True, blank=True
    )
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveManager()
    all_objects = AllRowsManager()

    entity_type = "Entity"

    class Meta:
        abstract = True

    # The five entities' ``Meta`` classes are alike by shape (ordering, constraints, live
    # indexes, search indexes) on purpose: each declares its own table's schema, which the
    # migrations mirror; the shared parts are these helpers.
    @staticmethod
    def live_index(name: str, *leading: str) -> models.Index:
        """A partial index of the live rows, led by ``leading``, in creation order (what a
        list's keyset pages walk)."""
        return models.Index(
            fields=[*leading, "created_at", "id"], name=name, condition=Q(deleted_at__isnull=True)
        )

    @staticmethod
    def name_unique(table: str, parent: str, **when: bool) -> models.UniqueConstraint:
        """No two live rows under one ``parent`` with the same name, in any letter case."""
        return models.UniqueConstraint(
            Lower("name"),
            parent,
            name=f"{table}_name_unique_per_{parent}",
            condition=Q(deleted_at__isnull=True, **when),
            violation_error_code=f"duplicate_{table}_name",
        )

    @classmethod
    def status_check(cls, table: str) -> models.CheckConstraint:
        return models.CheckConstraint(
            condition=Q(status_code__in=Status.values), name=f"{table}_status_code_valid"
        )


class Organization(Entity):
    legal_name = models.CharField(max_length=256)
    legal_document = models.CharField(max_length=256)
    doing_business_as = models.CharField(max_length=256, null=True, blank=True)
    parent_organization = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    address = models.JSONField(default=dict, blank=True, validators=[validate_address])

    entity_type = "Organization"

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            Entity.status_check("organization"),
            models.CheckConstraint(
                condition=~Q(parent_organization=models.F("id")),
                name="organization_not_own_parent",
            ),
        ]
        indexes = [Entity.live_index("organization_live_created")]

    def __str__(self) -> str:
        return self.legal_name


class Ledger(Entity):
    """A ledger of one organization. Names are unique, case-insensitively, among the live
    ledgers of the organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="ledgers")
    name = models.CharField(max_length=256)

    entity_type = "Ledger"

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            Entity.status_check("ledger"),
            # Midaz refuses a second ledger of the same name in an organization (0002).
            Entity.name_unique("ledger", "organization"),
        ]
        indexes = [Entity.live_index("ledger_live_created", "organization")]

    def __str__(self) -> str:
        return self.name


class Segment(Entity):
    """A cluster of accounts and portfolios sharing characteristics and benefits.

    A ledger segment (``ledger`` set) serves that ledger; an organization segment
    (``ledger`` null) serves every ledger of the organization. Names are unique,
    case-insensitively, among live segments of the same scope.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="segments"
    )
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, null=True, blank=True, related_name="segments"
    )
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=1000, null=True, blank=True)
    # Live direct members, kept exact by database triggers on the accounts and portfolios
    # tables (``segments.counters``); never written by the application.
    account_count = models.BigIntegerField(default=0, db_default=0, editable=False)
    portfolio_count = models.BigIntegerField(default=0, db_default=0, editable=False)

    entity_type = "Segment"
    COUNTER_FIELDS = ("account_count", "portfolio_count")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            Entity.status_check("segment"),
            Entity.name_unique("segment", "ledger", ledger__isnull=False),
            Entity.name_unique("segment", "organization", ledger__isnull=True),
        ]
        indexes = [
            Entity.live_index("segment_live_ledger_created", "ledger"),
            Entity.live_index("segment_live_org_created", "organization"),
            # The admin's search (PostgreSQL only, migration 0007).
            TrigramIndex("name", name="segment_name_trgm"),
            TrigramIndex("description", name="segment_description_trgm"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """An update never writes the member counters: the triggers own them, and a value
        read earlier would overwrite the changes made since."""
        updating = not self._state.adding and not kwargs.get("force_insert")
        if updating and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.COUNTER_FIELDS
            ]
        super().save(*args, **kwargs)

    @property
    def is_organization_level(self) -> bool:
        """Serves every ledger of its organization (no ``ledger``)."""
        return self.ledger_id is None

    def member_scope(self) -> models.Q:
        """The accounts and portfolios this segment may take (a filter on either): those
        of its ledger, or of every ledger of its organization at organization level."""
        if self.is_organization_level:
            return models.Q(organization_id=self.organization_id)
        return models.Q(ledger_id=self.ledger_id)

    @property
    def accepts_members(self) -> bool:
        """Only a live, ACTIVE segment takes new members (0014 otherwise)."""
        return self.deleted_at is None and self.status_code == Status.ACTIVE


class AssignedBy(models.TextChoices):
    """Who put a member in its segment: by hand (pinned: no rule moves it) or a rule."""

    MANUAL = "manual", "Manual"
    RULE = "rule", "Rule"


def _assigned_by_field() -> models.CharField:
    """``segment_assigned_by``: null when the member has no segment."""
    return models.CharField(
        max_length=10, choices=AssignedBy.choices, null=True, blank=True, editable=False
    )


class Portfolio(Entity):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="portfolios"
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="portfolios")
    name = models.CharField(max_length=256)
    entity_id = models.CharField(max_length=256, null=True, blank=True)
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="portfolios"
    )
    segment_assigned_by = _assigned_by_field()

    entity_type = "Portfolio"

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [Entity.status_check("portfolio")]
        indexes = [
            Entity.live_index("portfolio_live_created", "ledger"),
            Entity.live_index("portfolio_live_segment", "segment"),
            # The admin's search (PostgreSQL only, migration 0007).
            TrigramIndex("name", name="portfolio_name_trgm"),
            TrigramIndex("entity_id", name="portfolio_entity_id_trgm"),
        ]

    def __str__(self) -> str:
        return self.name


def _optional_key_without_index(to: type[models.Model] | str, related_name: str):
    """An optional, protected key of accounts that ``Account.Meta.indexes`` covers."""
    return models.ForeignKey(
        to, models.PROTECT, null=True, blank=True, related_name=related_name, db_index=False
    )


class Account(Entity):
    # The foreign keys of accounts are indexed by the composite and partial indexes of
    # ``Meta.indexes`` (each one leads an index that covers every row that has it), not by
    # one index per key: every index costs a write per moved account (issue #7).
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    name = models.CharField(max_length=256, null=True, blank=True)
    type = models.CharField(max_length=256)
    asset_code = models.CharField(max_length=100, validators=[validate_asset_code])
    alias = models.CharField(max_length=100, null=True, blank=True)
    entity_id = models.CharField(max_length=256, null=True, blank=True)
    parent_account = _optional_key_without_index("self", related_name="children")
    portfolio = _optional_key_without_index(Portfolio, related_name="accounts")
    segment = _optional_key_without_index(Segment, related_name="accounts")
    segment_assigned_by = _assigned_by_field()
    blocked = models.BooleanField(default=False)

    entity_type = "Account"

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            Entity.status_check("account"),
            models.UniqueConstraint(
                "ledger",
                "alias",
                name="account_alias_unique_per_ledger",
                condition=Q(deleted_at__isnull=True, alias__isnull=False),
                violation_error_code="duplicate_alias",
            ),
        ]
        indexes = [
            Entity.live_index("account_live_created", "ledger"),
            Entity.live_index("account_live_segment", "segment"),
            models.Index(
                fields=["portfolio", "created_at", "id"],
                name="account_live_portfolio",
                condition=Q(deleted_at__isnull=True, portfolio__isnull=False),
            ),
            # Every row by segment (foreign key checks, detach on delete), and the live
            # members of a segment in one ledger as an index-only count.
            models.Index(
                fields=["segment", "ledger", "deleted_at"],
                name="account_segment_ledger",
                condition=Q(segment__isnull=False),
            ),
            # Every row by organization, and by ledger through the organization.
            models.Index(fields=["organization", "ledger"], name="account_organization_ledger"),
            models.Index(
                fields=["portfolio"], name="account_portfolio", condition=Q(portfolio__isnull=False)
            ),
            models.Index(
                fields=["parent_account"],
                name="account_parent",
                condition=Q(parent_account__isnull=False),
            ),
            # The admin's search over a million accounts (PostgreSQL only, migration 0007).
            TrigramIndex("alias", name="account_alias_trgm"),
            TrigramIndex("name", name="account_name_trgm"),
            TrigramIndex("entity_id", name="account_entity_id_trgm"),
        ]

    def __str__(self) -> str:
        return self.alias or self.name or str(self.id)

    @property
    def effective_segment_id(self):
        """An account's own segment, else its portfolio's, else none."""
        if self.segment_id:
            return self.segment_id
        return self.portfolio.segment_id if self.portfolio_id else None


Account._meta.get_field("alias").validators.append(validate_alias)

# Every text column of the five entities refuses what PostgreSQL cannot store or a reader
# cannot see (``validate_text``), like ``max_length``: a field rule that the services'
# ``full_clean`` and the admin's model forms apply, without a migration.
for _model in (Organization, Ledger, Segment, Portfolio, Account):
    for _field in _model._meta.concrete_fields:
        if isinstance(_field, models.CharField):
            _field.validators.append(validate_text)


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """A user's role in one organization: the only source of tenancy."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.organization} · {self.role}"


class ApiToken(models.Model):
    """A bearer token of one user. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "sc_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="default")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.user} · {self.name}"

    @staticmethod
    def hash(raw_token: str) -> str:
        return hashlib.sha256(raw_token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str = "default") -> tuple[ApiToken, str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, token_hash=cls.hash(raw)), raw


class HistoryAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"
    RESTORED = "restored", "Restored"
    MEMBERS_ASSIGNED = "members_assigned", "Members assigned"
    MEMBERS_REMOVED = "members_removed", "Members removed"
    BENEFIT_CREATED = "benefit_created", "Benefit created"
    BENEFIT_UPDATED = "benefit_updated", "Benefit updated"
    BENEFIT_DELETED = "benefit_deleted", "Benefit deleted"
    RULE_UPDATED = "rule_updated", "Rule updated"
    RULE_DELETED = "rule_deleted", "Rule deleted"
    MEMBERSHIP_REFRESHED = "membership_refreshed", "Membership refreshed"


def actor_field() -> models.ForeignKey:
    """Who made a recorded change: kept null when that user is deleted (the record's
    ``actor_name`` still names them)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )


class SegmentHistory(models.Model):
    """One change to a segment or to its membership: who, when, what (before → after).

    A bulk assignment is one entry that records counts, not one row per account.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="history")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="segment_history"
    )
    actor = actor_field()
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=30, choices=HistoryAction.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # the writing transaction, shared with its change's events (``models.transactions``)
    txid = transaction_field()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "segment history"
        indexes = [models.Index(fields=["segment", "-created_at"], name="history_segment_recent")]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.action} by {self.actor_name}"


class IdempotencyRecord(models.Model):
    """The first successful answer to a POST made with an ``Idempotency-Key``, kept 24 h so
    that a retry with the same key and body gets the same answer and creates nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
