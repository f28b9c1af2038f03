"""The counts a page shows beside its lists: a segment's members and benefits, a ledger's
segments, accounts and portfolios. Each is one prepared query (``segments.prepared``),
compiled once per process: every segment page and ledger page reads them.
``segments.selectors`` hands them out with the lists."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.db.models.functions import Coalesce

from segments.models import Account, Benefit, Ledger, Organization, Portfolio, Segment
from segments.prepared import PreparedQuery
from segments.tenancy import is_active_user, restrict_to_member

_SEGMENT_COUNTS = PreparedQuery(
    lambda segment_id: (
        Segment.all_objects.filter(pk=segment_id)
        .annotate(
            live_benefits=Coalesce(
                Subquery(
                    Benefit.objects.filter(segment=OuterRef("pk"))
                    .order_by()
                    .values("segment")
                    .annotate(total=Count("pk"))
                    .values("total")
                ),
                0,
            )
        )
        .values_list("account_count", "portfolio_count", "live_benefits")
        .order_by()[:1]
    ),
    segment_id=UUIDField(),
)


def member_counts(segment: Segment) -> dict[str, int]:
    """Direct members (accounts and portfolios tagged with the segment) and the accounts
    it reaches (its own plus those whose portfolio is in it and that have no segment of
    their own). The direct counts are the segment's counters, read fresh (O(1) whatever
    the size); the accounts reached through portfolios are counted."""
    counts = segment_counts(segment)
    del counts["benefits"]
    return counts


def segment_counts(segment: Segment) -> dict[str, int]:
    """``member_counts`` and the segment's live benefits (``benefits``), the counters and
    the benefits read in one query (a segment page shows both)."""
    accounts, portfolios, benefits = _SEGMENT_COUNTS.first(segment_id=segment.pk) or (0, 0, 0)
    through_portfolio = (
        Account.objects.filter(
            segment__isnull=True, portfolio__segment=segment, portfolio__deleted_at__isnull=True
        ).count()
        if portfolios
        else 0
    )
    return {
        "accounts": accounts,
        "portfolios": portfolios,
        "accounts_reached": accounts + through_portfolio,
        "benefits": benefits,
    }


def _count_in_ledger(model: type, *, with_organization: bool) -> PreparedQuery:
    """The number of live rows of ``model`` in a ledger the user may view, as the count of
    its unfiltered list (the same rows: the list's FilterSet with no parameter narrows
    nothing)."""

    def build(user_id: Any, organization_id: Any, ledger_id: Any) -> QuerySet:
        rows = model.objects.filter(ledger_id=ledger_id)
        if with_organization:
            rows = rows.filter(organization_id=organization_id)
        viewable = restrict_to_member(Organization.objects.filter(pk=organization_id), user_id)
        return (
            rows.filter(Exists(viewable))
            .order_by()
            .values("ledger_id")
            .annotate(total=Count("pk"))
            .values_list("total", flat=True)
        )

    return PreparedQuery(
        build, user_id=IntegerField(), organization_id=UUIDField(), ledger_id=UUIDField()
    )


_LEDGER_COUNTS = {
    "segments": _count_in_ledger(Segment, with_organization=True),
    "accounts": _count_in_ledger(Account, with_organization=False),
    "portfolios": _count_in_ledger(Portfolio, with_organization=False),
}


def ledger_counts(user, ledger: Ledger) -> dict[str, int]:
    """The live segments, accounts and portfolios of the ledger (what ``list_segments``,
    ``list_accounts`` and ``list_portfolios`` hold unfiltered), each 0 for a user who may
    not view its organization: three prepared counts (a ledger page's tab labels)."""
    if not is_active_user(user):
        return dict.fromkeys(_LEDGER_COUNTS, 0)
    values = {"user_id": user.pk, "organization_id": ledger.organization_id, "ledger_id": ledger.pk}
    return {name: count.first(**values) or 0 for name, count in _LEDGER_COUNTS.items()}
