"""Reads: one query function per list, tenancy applied, shared by the API and the
console. Each returns a lazy queryset with what its list shows (counts, related rows)
already joined or annotated, so a page costs a constant number of queries."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Count,
    Exists,
    Q,
    QuerySet,
)
from django.db.models.functions import Lower

from segments import errors

# The reads of one object and the counts of a page are handed out with the lists
# (selectors.get_segment, selectors.member_counts …).
from segments.counts import ledger_counts as ledger_counts
from segments.counts import member_counts as member_counts
from segments.counts import segment_counts as segment_counts
from segments.filters import (
    AccountFilterSet,
    LedgerFilterSet,
    OrganizationFilterSet,
    PortfolioFilterSet,
    SegmentFilterSet,
    apply_filters,
)
from segments.ids import uuid_or_none
from segments.models import (
    Account,
    Benefit,
    BenefitVersion,
    Ledger,
    Organization,
    Portfolio,
    Segment,
    SegmentHistory,
)
from segments.object_reads import get_account as get_account
from segments.object_reads import get_ledger as get_ledger
from segments.object_reads import get_organization as get_organization
from segments.object_reads import get_portfolio as get_portfolio
from segments.object_reads import get_segment as get_segment
from segments.tenancy import get_visible, restrict, viewable_in_this_request

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_PAGE = 1_000_000  # keeps the offset within the database's integers


# --------------------------------------------------------------------------- lists


def restrict_within(queryset: QuerySet, user, organization_id: Any) -> QuerySet:
    """``tenancy.restrict`` for a list already confined to one organization (the rows of a
    ledger, a segment …): all of them when the user may view that organization, else
    none. The check is one uncorrelated EXISTS that PostgreSQL evaluates once, so the
    plan of the list and of its count stays on the list's own index; a correlated
    ``organization_id IN (memberships)`` made it scan every account of the organization
    (issue #7). No check at all when this request already read a row of that organization
    for the user (``tenancy.viewable_in_this_request``: the path's ledger or segment)."""
    if viewable_in_this_request(user, organization_id):
        return queryset
    visible = restrict(Organization.objects.filter(pk=organization_id), user)
    return queryset.filter(Exists(visible))


def organizations_visible(user) -> QuerySet[Organization]:
    """The organizations list: live organizations the user is a member of."""
    return restrict(Organization.objects.all(), user)


def list_organizations(user, params: Mapping[str, Any]) -> QuerySet[Organization]:
    return apply_filters(OrganizationFilterSet, params, organizations_visible(user))


def ledgers_of(user, organization: Organization) -> QuerySet[Ledger]:
    """The ledgers list: live ledgers of the organization."""
    return restrict_within(Ledger.objects.filter(organization=organization), user, organization.pk)


def list_ledgers(user, organization: Organization, params: Mapping[str, Any]) -> QuerySet[Ledger]:
    return apply_filters(LedgerFilterSet, params, ledgers_of(user, organization))


def segments_of(user, organization: Organization, ledger: Ledger | None) -> QuerySet[Segment]:
    """The segments list: live segments of a ledger, or the organization-level segments
    when ``ledger`` is None, with their member counts (``account_count`` and
    ``portfolio_count``: columns of the segment that database triggers keep exact,
    ``segments.counters``; no member row is read)."""
    queryset = Segment.objects.filter(organization=organization, ledger=ledger).select_related(
        "ledger"
    )
    return restrict_within(queryset, user, organization.pk)


def list_segments(
    user, organization: Organization, ledger: Ledger | None, params: Mapping[str, Any]
) -> QuerySet[Segment]:
    return apply_filters(SegmentFilterSet, params, segments_of(user, organization, ledger))


def segments_usable_in(user, ledger: Ledger) -> QuerySet[Segment]:
    """Segments that accounts and portfolios of the ledger may join or already show: the
    ledger's own and its organization's, live; ledger ones first."""
    queryset = Segment.objects.filter(
        Q(ledger=ledger) | Q(ledger__isnull=True, organization_id=ledger.organization_id)
    )
    return restrict_within(queryset, user, ledger.organization_id).order_by(
        "-ledger_id", "name", "id"
    )


def portfolios_of(user, ledger: Ledger) -> QuerySet[Portfolio]:
    """The portfolios list: live portfolios of the ledger, with their segments."""
    return restrict_within(
        Portfolio.objects.filter(ledger=ledger), user, ledger.organization_id
    ).select_related("segment")


def list_portfolios(user, ledger: Ledger, params: Mapping[str, Any]) -> QuerySet[Portfolio]:
    return apply_filters(PortfolioFilterSet, params, portfolios_of(user, ledger))


def accounts_of(user, ledger: Ledger) -> QuerySet[Account]:
    """The accounts list: live accounts of the ledger, with their segments and portfolios."""
    return restrict_within(
        Account.objects.filter(ledger=ledger), user, ledger.organization_id
    ).select_related("segment", "portfolio", "portfolio__segment")


def list_accounts(user, ledger: Ledger, params: Mapping[str, Any]) -> QuerySet[Account]:
    return apply_filters(AccountFilterSet, params, accounts_of(user, ledger))


def list_segment_accounts(user, segment: Segment, params: Mapping[str, Any]) -> QuerySet[Account]:
    """Accounts tagged with the segment (its direct members)."""
    queryset = restrict_within(
        Account.objects.filter(segment=segment), user, segment.organization_id
    ).select_related("ledger", "portfolio")
    return apply_filters(AccountFilterSet, params, queryset)


def list_segment_portfolios(
    user, segment: Segment, params: Mapping[str, Any]
) -> QuerySet[Portfolio]:
    queryset = restrict_within(
        Portfolio.objects.filter(segment=segment), user, segment.organization_id
    ).select_related("ledger")
    return apply_filters(PortfolioFilterSet, params, queryset)


def _assignable_to(model, user, segment: Segment) -> QuerySet:
    queryset = model.objects.filter(
        segment.member_scope(),
        organization_id=segment.organization_id,
        ledger__deleted_at__isnull=True,
    ).exclude(segment_id=segment.pk)
    return restrict(queryset, user).select_related("ledger", "segment")


def accounts_assignable_to(user, segment: Segment, params: Mapping[str, Any]) -> QuerySet[Account]:
    """Accounts the segment may take and does not hold yet: live accounts of its ledger,
    or of every ledger of its organization for an organization segment (the members
    picker)."""
    return apply_filters(AccountFilterSet, params, _assignable_to(Account, user, segment))


def portfolios_assignable_to(
    user, segment: Segment, params: Mapping[str, Any]
) -> QuerySet[Portfolio]:
    """Portfolios the segment may take and does not hold yet (see accounts_assignable_to)."""
    return apply_filters(PortfolioFilterSet, params, _assignable_to(Portfolio, user, segment))


def benefits_of(user, segment: Segment) -> QuerySet[Benefit]:
    """The benefits list of a segment: its live benefits, in priority order."""
    return restrict_within(
        Benefit.objects.filter(segment=segment), user, segment.organization_id
    ).order_by("priority", "created_at", "id")


def get_benefit(user, segment: Segment, benefit_id: Any) -> Benefit:
    """A live benefit of the segment in the path, or 0007."""
    return get_visible(
        Benefit.objects.filter(segment=segment).select_related("segment"),
        user,
        pk=benefit_id,
        organization_id=segment.organization_id,
    )


def benefit_versions(benefit: Benefit) -> QuerySet[BenefitVersion]:
    """Every version of the benefit, newest first (read after ``get_benefit``)."""
    return BenefitVersion.objects.filter(benefit=benefit).order_by("-version")


def benefit_version_at(benefit: Benefit, at: Any) -> BenefitVersion | None:
    """The version the benefit had at ``at``; None when it did not exist yet."""
    return benefit_versions(benefit).filter(created_at__lte=at).first()


def list_segment_history(user, segment: Segment) -> QuerySet[SegmentHistory]:
    return restrict_within(
        SegmentHistory.objects.filter(segment=segment), user, segment.organization_id
    ).select_related("actor")


# --------------------------------------------------------------------------- paging


@dataclass(frozen=True)
class Page:
    """One page of an API list by offset (the console pages with Django's ``Paginator``)."""

    items: list
    page: int
    limit: int
    total: int


def _positive_int(params: Mapping[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise errors.MalformedQuery(f"Query parameter '{name}' must be a whole number.") from None
    if value < 1:
        raise errors.MalformedQuery(f"Query parameter '{name}' must be at least 1.")
    return value


def page_params(params: Mapping[str, Any]) -> tuple[int, int]:
    """``page`` (1–1,000,000, default 1) and ``limit`` (1–100, default 10), or 0082 /
    0080."""
    limit = _positive_int(params, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise errors.LimitTooLarge(f"limit may not exceed {MAX_LIMIT} (got {limit}).")
    page = _positive_int(params, "page", 1)
    if page > MAX_PAGE:
        raise errors.MalformedQuery(f"Query parameter 'page' may not exceed {MAX_PAGE}.")
    return page, limit


def paginate(queryset: QuerySet, params: Mapping[str, Any], total: int | None = None) -> Page:
    """One page by offset, with the exact total: two queries, or one when the caller
    already knows the total (a segment's member counter)."""
    page, limit = page_params(params)
    offset = (page - 1) * limit
    items = list(queryset[offset : offset + limit])
    if total is None:
        total = len(items) if offset == 0 and len(items) < limit else queryset.order_by().count()
    return Page(items=items, page=page, limit=limit, total=total)


UNFILTERED_PARAMS = frozenset({"page", "limit", "sort_order", "kind"})


def member_total(segment: Segment, kind: str, params: Mapping[str, Any]) -> int | None:
    """The total of an unfiltered member list of the segment (``list_segment_accounts`` /
    ``list_segment_portfolios`` with paging and order only): its member counter, exact and
    O(1), as read with ``segment`` (just fetched). None when a filter is given (the list
    then counts)."""
    if set(params) - UNFILTERED_PARAMS:
        return None
    return segment.account_count if kind == "account" else segment.portfolio_count


@dataclass(frozen=True)
class CursorPage:
    items: list
    limit: int
    next_cursor: str | None
    prev_cursor: str | None


def _encode_cursor(obj, direction: str) -> str:
    """``obj`` is a model instance or a ``values()`` row (with ``created_at`` and ``id``)."""
    if isinstance(obj, Mapping):
        created_at, pk = obj["created_at"], obj["id"]
    else:
        created_at, pk = obj.created_at, obj.pk
    payload = {"t": created_at.isoformat(), "i": str(pk), "d": direction}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


MAX_CURSOR_LENGTH = 512  # the cursors this server writes are about 130 characters


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID, str]:
    """The position a cursor of ``_encode_cursor`` holds: an aware creation time, an id
    and a direction (``next``/``prev``). Anything else — not base64, not JSON, not an
    object, a field missing or of another JSON type, a time without a zone or outside the
    calendar in UTC, an id that is not a UUID, another direction — is 0082."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        created, pk, direction = payload["t"], payload["i"], payload["d"]
        if not all(isinstance(part, str) for part in (created, pk, direction)):
            raise ValueError("not text")
        if direction not in ("next", "prev"):
            raise ValueError("no direction")
        created_at = dt.datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            raise ValueError("no time zone")
        pk = uuid_or_none(pk)
        if pk is None:
            raise ValueError("not an id")
        return created_at.astimezone(dt.UTC), pk, direction
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise errors.MalformedQuery(
            "cursor is not valid; use a cursor from a response.",
            fields={"cursor": "not a cursor from a response"},
        ) from None


def cursor_paging(params: Mapping[str, Any]) -> bool:
    """Whether a list that offers cursors serves this request by keyset (``cursor``)
    paging. A cursor holds a position in creation order, so only that order (``sort``
    absent or ``created``) is paged by cursor; a page of another ``sort`` is served by
    number (offset, in that order, no cursors offered), and a ``cursor`` sent with such a
    sort is 0082. So the pages of one request never come in two orders (issue #10
    item 6)."""
    if (params.get("sort") or "created") == "created":
        return True
    if params.get("cursor"):
        raise errors.MalformedQuery(
            "cursor pages are in creation order; page a sorted list with page=.",
            fields={"cursor": "cannot be combined with sort"},
        )
    return False


def paginate_by_cursor(queryset: QuerySet, params: Mapping[str, Any]) -> CursorPage:
    """Keyset paging on (created_at, id): stable under inserts and as fast deep as on the
    first page. ``sort_order`` sets the direction; the cursor says which way to move."""
    _, limit = page_params(params)
    descending = (params.get("sort_order") or "asc").lower() == "desc"
    cursor = params.get("cursor")
    moving_back = False
    if cursor:
        created_at, pk, direction = _decode_cursor(cursor)
        moving_back = direction == "prev"
        after = descending == moving_back  # move towards larger keys?
        # The redundant bound on created_at alone is what lets the index scan start at the
        # cursor (an index condition); the OR only decides ties (issue #7).
        if after:
            queryset = queryset.filter(
                Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk),
                created_at__gte=created_at,
            )
        else:
            queryset = queryset.filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk),
                created_at__lte=created_at,
            )
    ascending_scan = descending == moving_back
    order = ("created_at", "id") if ascending_scan else ("-created_at", "-id")
    rows = list(queryset.order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if moving_back:
        rows.reverse()
    has_next = more if not moving_back else True
    has_prev = bool(cursor) if not moving_back else more
    return CursorPage(
        items=rows,
        limit=limit,
        next_cursor=_encode_cursor(rows[-1], "next") if rows and has_next else None,
        prev_cursor=_encode_cursor(rows[0], "prev") if rows and has_prev else None,
    )


def duplicate_ledger_names(ledgers: QuerySet[Ledger]) -> list[list[Ledger]]:
    """Live ledgers that break "a ledger's name is unique, case-insensitively, among the
    live ledgers of its organization" (rows written before migration 0006 enforced it): one
    list per organization and name, oldest first; empty when there are none. ``ledgers``
    is any queryset of ledgers (migration 0006 passes its historical model's rows)."""
    live = ledgers.filter(deleted_at__isnull=True).annotate(name_key=Lower("name"))
    clashes = {
        (row["organization_id"], row["name_key"])
        for row in live.order_by()
        .values("organization_id", "name_key")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
    }
    if not clashes:
        return []
    groups: dict[tuple[Any, str], list[Ledger]] = {}
    candidates = live.filter(
        organization_id__in={organization for organization, _ in clashes},
        name_key__in={name for _, name in clashes},
    ).order_by("organization_id", "name_key", "created_at", "pk")
    for ledger in candidates:
        key = (ledger.organization_id, ledger.name_key)
        if key in clashes:
            groups.setdefault(key, []).append(ledger)
    return list(groups.values())
