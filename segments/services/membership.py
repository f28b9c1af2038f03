"""Membership: which segment an account or portfolio is in. Only a segment that
``accepts_members`` (live and ACTIVE, 0014 otherwise) takes new members, and only
accounts and portfolios of its scope (its ledger, or every ledger of its organization
for an organization segment). Bulk changes are all or nothing, at most
``BULK_MEMBERS_MAX`` ids per call (a change by filter has no limit: it lists nothing).

Every change of membership takes its locks in the one order of ``segments.locking``
(segments, then portfolios, then accounts, each in id order), and records the members'
arrivals and departures in each segment's history, with its ``segment.members.changed``
events (``services.history.record_membership``; ``cause`` names why: manual, import).

A member assigned here is pinned (``segment_assigned_by = 'manual'``: no rule moves it);
one taken out is unpinned. A dynamic segment takes no member by hand (422 ``9010``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils import timezone

from segments import errors, locking
from segments.ids import as_uuid
from segments.locking import atomic_service
from segments.models import (
    # Alike to the import list of services/evaluation.py; kept apart: each module imports
    # the models it uses.
    Account,
    AssignedBy,
    Entity,
    HistoryAction,
    Ledger,
    Portfolio,
    Segment,
    SegmentRule,
)
from segments.services.evaluation import apply_rules_to_unpinned
from segments.services.events import members_changed
from segments.services.history import HISTORY_ID_SAMPLE, record, record_membership
from segments.services.rows import lock_for_update

BULK_MEMBERS_MAX = 10_000


def require_accepts_members(segment: Segment, field: str | None = None) -> None:
    """Only a segment that ``accepts_members`` (live and ACTIVE) takes new members (0014)."""
    if not segment.accepts_members:
        raise errors.SegmentNotActive(
            f"Segment '{segment.name}' is {segment.status_code}; "
            "only ACTIVE segments accept members.",
            entity_type="Segment",
            fields={field: "segment is not active"} if field else None,
        )


def require_manual(segment: Segment) -> None:
    """A dynamic segment's members are its rule's: none is assigned by hand (422 9010)."""
    if SegmentRule.objects.filter(segment_id=segment.pk).exists():
        raise errors.DynamicSegmentAssignment(
            f"Segment '{segment.name}' is dynamic: its rule chooses its members.",
            entity_type="Segment",
            fields={"segment_id": "segment is dynamic"},
        )


def segment_for_member(ledger: Ledger, segment_id: Any) -> Segment:
    """A segment can take an account or portfolio of ``ledger`` only when it is live,
    ACTIVE, and belongs to that ledger or, at organization level, to the ledger's
    organization. Unknown, deleted and other tenants' segments are all "not found"
    (0036); an existing one that is not ACTIVE is refused with 0014. The segment is
    locked until commit (``locking.lock_segments``: call it before locking any member
    row) so that it cannot be deleted under the new member."""
    segment_uuid = as_uuid(segment_id, "segment_id")
    segment = locking.lock_segments([segment_uuid], organization_id=ledger.organization_id).get(
        segment_uuid
    )
    in_scope = segment is not None and (
        segment.is_organization_level or segment.ledger_id == ledger.pk
    )
    if not in_scope or segment.deleted_at is not None:
        raise errors.SegmentNotFound(
            "The segment was not found in this ledger or its organization.",
            entity_type="Segment",
            fields={"segment_id": "segment not found"},
        )
    require_accepts_members(segment, field="segment_id")
    require_manual(segment)
    return segment


def segment_or_none(ledger: Ledger, segment_id: Any) -> Segment | None:
    """A member's segment after a change of ``segment_id``: none for ``None`` (it leaves
    its segment), else the one ``segment_for_member`` allows."""
    return segment_for_member(ledger, segment_id) if segment_id is not None else None


# --------------------------------------------------------------------------- by id


def _unique_uuids(values: Iterable[Any], field: str) -> list[uuid.UUID]:
    seen: dict[uuid.UUID, None] = {}
    for value in values:
        seen.setdefault(as_uuid(value, field), None)
    return list(seen)


def _requested(account_ids: Iterable[Any], portfolio_ids: Iterable[Any]) -> tuple[list, list]:
    """The ids of a bulk call, each once, as UUIDs; at most ``BULK_MEMBERS_MAX`` in all."""
    account_uuids = _unique_uuids(account_ids, "accountIds")
    portfolio_uuids = _unique_uuids(portfolio_ids, "portfolioIds")
    if len(account_uuids) + len(portfolio_uuids) > BULK_MEMBERS_MAX:
        raise errors.InvalidField(
            f"At most {BULK_MEMBERS_MAX} ids per request.",
            entity_type="Segment",
            fields={"accountIds": f"at most {BULK_MEMBERS_MAX} ids per request"},
        )
    return account_uuids, portfolio_uuids


def _refuse_missing(field: str, requested: list, found: set, what: str) -> None:
    missing = [str(pk) for pk in requested if pk not in found]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
        )
        raise errors.InvalidField(
            f"{len(missing)} {what} not found in this segment's scope: {shown}.",
            entity_type="Segment",
            fields={field: f"not found in this segment's scope: {shown}"},
            values={field: missing},
        )


def _refuse_non_members(
    segment: Segment, model: type[Entity], requested: list, field: str, what: str
) -> None:
    found = set(
        model.objects.filter(segment_id=segment.pk, pk__in=requested).values_list("pk", flat=True)
    )
    missing = [pk for pk in requested if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:10])
        raise errors.InvalidField(
            f"{len(missing)} {what} are not members of this segment: {shown}.",
            entity_type="Segment",
            fields={field: f"not members of this segment: {shown}"},
            values={field: [str(pk) for pk in missing]},
        )


def _lock_with_members(
    segment: Segment, account_ids: Iterable[Any], portfolio_ids: Iterable[Any]
) -> tuple[Segment, list, list]:
    """The segment re-read under its lock and the requested ids (``_requested``), the
    segment and its would-be members locked in the order of ``segments.locking``."""
    account_uuids, portfolio_uuids = _requested(account_ids, portfolio_ids)
    locking.lock_members(
        segment.organization_id,
        segments=[segment.pk],
        accounts=account_uuids,
        portfolios=portfolio_uuids,
    )
    return lock_for_update(segment), account_uuids, portfolio_uuids


def _kinds(account_uuids: list, portfolio_uuids: list) -> tuple:
    return (
        (Account, account_uuids, "accountIds", "account(s)"),
        (Portfolio, portfolio_uuids, "portfolioIds", "portfolio(s)"),
    )


# assign_members, remove_members and clear_segments share one signature on purpose (the
# ids as keyword lists of accounts and portfolios), so every face calls them alike.
@atomic_service
def assign_members(
    actor,
    segment: Segment,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
    cause: str = "manual",
) -> dict[str, int]:
    """Put accounts and portfolios into a segment, all or nothing. Every id must name a
    live account/portfolio that the segment may take (same ledger, or same organization
    for an organization segment), and the segment must be live and ACTIVE. Members moved
    from another segment are recorded as removed in that segment's history. At most
    10,000 ids per call. Returns the counts now assigned."""
    segment, account_uuids, portfolio_uuids = _lock_with_members(
        segment, account_ids, portfolio_ids
    )
    require_accepts_members(segment)
    require_manual(segment)
    scope = segment.member_scope()
    for model, requested, field, what in _kinds(account_uuids, portfolio_uuids):
        if requested:
            found = set(model.objects.filter(scope, pk__in=requested).values_list("pk", flat=True))
            _refuse_missing(field, requested, found, what)
    moved_portfolios = _move_members(Portfolio, portfolio_uuids, segment, actor, cause)
    moved_accounts = _move_members(Account, account_uuids, segment, actor, cause)
    record_membership(
        segment.pk,
        actor,
        HistoryAction.MEMBERS_ASSIGNED,
        moved_accounts,
        moved_portfolios,
        cause=cause,
    )
    return {"accounts": len(account_uuids), "portfolios": len(portfolio_uuids)}


def _move_members(
    model: type[Entity], ids: list, segment: Segment, actor, cause: str = "manual"
) -> list:
    """Tag the rows (already locked with their segments, ``locking.lock_members``) with
    the segment; returns the ids that were not already members and records their
    departure from their previous segments."""
    if not ids:
        return []
    rows = list(
        model.objects.filter(pk__in=ids)
        .exclude(segment_id=segment.pk)
        .values_list("pk", "segment_id")
    )
    by_previous: dict[Any, list] = {}
    for pk, previous in rows:
        if previous is not None:
            by_previous.setdefault(previous, []).append(pk)
    for previous, moved in sorted(by_previous.items(), key=lambda item: str(item[0])):
        kind = "account_ids" if model is Account else "portfolio_ids"
        record_membership(
            previous, actor, HistoryAction.MEMBERS_REMOVED, **{kind: moved}, cause=cause
        )
    changed = [pk for pk, _ in rows]
    if changed:
        model.objects.filter(pk__in=changed).update(
            segment=segment, segment_assigned_by=AssignedBy.MANUAL, updated_at=timezone.now()
        )
    return changed


@atomic_service
def remove_members(
    actor,
    segment: Segment,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
) -> dict[str, int]:
    """Take accounts and portfolios out of a segment, all or nothing: every id must be a
    live member of this segment. At most 10,000 ids per call. Those taken out are unpinned:
    the rules of their scope may take them at once. Returns the counts removed."""
    segment, account_uuids, portfolio_uuids = _lock_with_members(
        segment, account_ids, portfolio_ids
    )
    for model, requested, field, what in _kinds(account_uuids, portfolio_uuids):
        if requested:
            _refuse_non_members(segment, model, requested, field, what)
    unassigned = {"segment": None, "segment_assigned_by": None, "updated_at": timezone.now()}
    if portfolio_uuids:
        Portfolio.objects.filter(pk__in=portfolio_uuids).update(**unassigned)
    if account_uuids:
        Account.objects.filter(pk__in=account_uuids).update(**unassigned)
    record_membership(
        segment.pk, actor, HistoryAction.MEMBERS_REMOVED, account_uuids, portfolio_uuids
    )
    apply_rules_to_unpinned(Portfolio, portfolio_uuids, actor)
    apply_rules_to_unpinned(Account, account_uuids, actor)
    return {"accounts": len(account_uuids), "portfolios": len(portfolio_uuids)}


@atomic_service
def clear_segments(
    actor,
    ledger: Ledger,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
) -> dict[str, int]:
    """Take accounts and portfolios of a ledger out of whatever segment each is in, all or
    nothing, in one transaction: every id must name a live account/portfolio of the
    ledger; rows without a segment are left as they are. Each segment's history records
    its departures (through ``remove_members``). Returns the counts taken out."""
    account_uuids, portfolio_uuids = _requested(account_ids, portfolio_ids)
    locking.lock_members(ledger.organization_id, accounts=account_uuids, portfolios=portfolio_uuids)
    by_segment = _members_by_segment(ledger, account_uuids, portfolio_uuids)
    counts = {"accounts": 0, "portfolios": 0}
    for segment_id in sorted(by_segment, key=str):
        removed = remove_members(
            actor, Segment.objects.get(pk=segment_id), **by_segment[segment_id]
        )
        counts = {key: counts[key] + removed[key] for key in counts}
    return counts


def _members_by_segment(
    ledger: Ledger, account_uuids: list, portfolio_uuids: list
) -> dict[Any, dict[str, list]]:
    """The requested rows of the ledger (every one must exist) by the segment they are in:
    ``{segment_id: {"account_ids": [...], "portfolio_ids": [...]}}``."""
    by_segment: dict[Any, dict[str, list]] = {}
    for model, requested, field, what in _kinds(account_uuids, portfolio_uuids):
        if not requested:
            continue
        kind = "account_ids" if model is Account else "portfolio_ids"
        rows = list(
            model.objects.filter(ledger_id=ledger.pk, pk__in=requested).values_list(
                "pk", "segment_id"
            )
        )
        _refuse_missing(field, requested, {pk for pk, _ in rows}, what)
        for pk, segment_id in rows:
            if segment_id is not None:
                members = by_segment.setdefault(
                    segment_id, {"account_ids": [], "portfolio_ids": []}
                )
                members[kind].append(pk)
    return by_segment


# --------------------------------------------------------------------------- by filter


@atomic_service
def assign_accounts_matching(
    actor, segment: Segment, accounts: QuerySet[Account]
) -> dict[str, int]:
    """Put every account of ``accounts`` into the segment, in one transaction and one
    statement however many match (nothing is listed, so the 10,000-id limit of
    ``assign_members`` does not apply). Only live accounts the segment may take are
    assigned: those of its ledger, or of every ledger of its organization for an
    organization segment; the rest of ``accounts`` is left out, not refused. The segment
    must be live and ACTIVE (0014). Its history gets ONE entry with the count and a sample
    of ids; each segment the accounts came from gets one "removed" entry with its count.
    ``accounts`` is a plain filter of accounts (no aggregation or DISTINCT). Returns the
    counts assigned."""
    if accounts.model is not Account:
        raise TypeError("assign_accounts_matching takes a queryset of accounts.")
    database = router.db_for_write(Account)
    matching = (
        accounts.using(database)
        .filter(segment.member_scope())
        .live()
        .exclude(segment_id=segment.pk)
    )
    # Lock order (segments.locking): the segment and every segment the candidates are in
    # now, then the rows in id order; a row that moved meanwhile into a segment not
    # locked here is left out (it changed after this assignment, in effect).
    previous = {
        pk
        for pk in matching.order_by().values_list("segment_id", flat=True).distinct()
        if pk is not None
    }
    locking.lock_segments({segment.pk, *previous}, organization_id=segment.organization_id)
    segment = lock_for_update(segment)
    require_accepts_members(segment)
    require_manual(segment)
    moved = _move_matching(matching, previous, segment, database)
    return _record_matching(actor, segment, moved)


def _move_matching(matching: QuerySet[Account], previous: set, segment: Segment, database: str):
    """Move the candidates that are unassigned or in a segment of ``previous`` (locked);
    returns ``(previous segment id, count, every id as text)`` per segment they left."""
    unassigned_or_locked = Q(segment_id__isnull=True)
    if previous:
        unassigned_or_locked |= Q(segment_id__in=previous)
    candidates = (
        matching.filter(unassigned_or_locked)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", "segment_id")
    )
    candidate_sql, params = candidates.query.get_compiler(using=database).as_sql()
    table = Account._meta.db_table
    with connections[database].cursor() as cursor:
        cursor.execute(
            # Lock the matching rows (and keep their previous segment), then update them by
            # primary key: "= ANY(ARRAY(...))" keeps the plan on the primary key index
            # whatever the estimate (a join chose a sequential scan of the table).
            f"WITH old (id, previous) AS ({candidate_sql}), "
            f"moved AS (UPDATE {table} AS a SET segment_id = %s, segment_assigned_by = %s, "
            "updated_at = %s "
            "WHERE a.id = ANY (ARRAY(SELECT id FROM old))) "
            "SELECT previous, count(*), array_agg(id::text ORDER BY id) "
            "FROM old GROUP BY previous",
            [*params, segment.pk, AssignedBy.MANUAL.value, timezone.now()],
        )
        return cursor.fetchall()


def _record_matching(actor, segment: Segment, moved: list) -> dict[str, int]:
    """ONE "assigned" entry in the segment's history, one "removed" entry in each segment
    the accounts left, each with its ``segment.members.changed`` events (every id, in
    chunks, rows written in one statement per segment); returns the counts assigned."""
    total = sum(count for _, count, _ in moved)
    if not total:
        return {"accounts": 0, "portfolios": 0}
    previous_segments = Segment.all_objects.in_bulk(
        [previous for previous, _, _ in moved if previous is not None]
    )
    every: list[str] = []
    for previous, count, ids in sorted(moved, key=lambda row: str(row[0])):
        every.extend(ids)
        if previous is not None:
            payload = {"accounts": count, "portfolios": 0, "portfolioIds": []}
            payload["accountIds"] = ids[:HISTORY_ID_SAMPLE]
            record(previous_segments[previous], actor, HistoryAction.MEMBERS_REMOVED, payload, None)
            members_changed(previous_segments[previous], removed={"accounts": ids})
    after = {
        "accounts": total,
        "portfolios": 0,
        "accountIds": every[:HISTORY_ID_SAMPLE],
        "portfolioIds": [],
    }
    record(segment, actor, HistoryAction.MEMBERS_ASSIGNED, None, after)
    members_changed(segment, added={"accounts": every})
    return {"accounts": total, "portfolios": 0}
