"""The models of the segments app, by concern: ``entities`` (the five entities of the
onboarding domain, memberships, API tokens, segment history, idempotency keys),
``benefits`` (what a segment grants, and every version of it), ``events`` (the outbox
of the changes other systems learn about) and ``rules`` (the rules of dynamic segments).
Import them from here.

Rows are never removed: ``deleted_at`` marks a soft delete. ``objects`` shows live rows
only; ``all_objects`` shows every row (audit, admin restore).
"""

from segments.models.benefits import Benefit, BenefitKind, BenefitVersion
from segments.models.entities import (
    Account,
    AllRowsManager,
    ApiToken,
    AssignedBy,
    Entity,
    HistoryAction,
    IdempotencyRecord,
    Ledger,
    LiveManager,
    LiveQuerySet,
    Membership,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
    Status,
)
from segments.models.events import Event, EventStatus
from segments.models.rules import (
    RefreshCause,
    RefreshStatus,
    RuleRefresh,
    RuleSubject,
    SegmentRule,
)

__all__ = [
    "Account",
    "AllRowsManager",
    "ApiToken",
    "AssignedBy",
    "Benefit",
    "BenefitKind",
    "BenefitVersion",
    "Entity",
    "Event",
    "EventStatus",
    "HistoryAction",
    "IdempotencyRecord",
    "Ledger",
    "LiveManager",
    "LiveQuerySet",
    "Membership",
    "Organization",
    "Portfolio",
    "RefreshCause",
    "RefreshStatus",
    "Role",
    "RuleRefresh",
    "RuleSubject",
    "Segment",
    "SegmentHistory",
    "SegmentRule",
    "Status",
]
