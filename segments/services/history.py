"""A segment's history: one entry per change to the segment or to its membership (who,
when, before → after). Membership entries record counts and a sample of ids, never one
row per member. A membership entry is written with its ``segment.members.changed`` events
(``services.events.members_changed``, every id, chunked), so that no path records the one
without the other."""

from __future__ import annotations

from typing import Any

from segments.models import HistoryAction, Segment, SegmentHistory
from segments.services.events import members_changed

HISTORY_ID_SAMPLE = 100


def actor_name(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "system"
    return actor.get_username()


def snapshot(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "status": {"code": segment.status_code, "description": segment.status_description},
        "metadata": dict(segment.metadata or {}),
        "ledgerId": str(segment.ledger_id) if segment.ledger_id else None,
    }


def record(
    segment: Segment,
    actor,
    action: HistoryAction,
    before: dict | None,
    after: dict | None,
) -> SegmentHistory:
    return SegmentHistory.objects.create(
        segment=segment,
        organization_id=segment.organization_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name(actor),
        action=action,
        before=before,
        after=after,
    )


def members_payload(account_ids: list, portfolio_ids: list) -> dict[str, Any]:
    return {
        "accounts": len(account_ids),
        "portfolios": len(portfolio_ids),
        "accountIds": [str(pk) for pk in account_ids[:HISTORY_ID_SAMPLE]],
        "portfolioIds": [str(pk) for pk in portfolio_ids[:HISTORY_ID_SAMPLE]],
    }


def record_membership(
    segment_id,
    actor,
    action: HistoryAction,
    account_ids: list = (),
    portfolio_ids: list = (),
    *,
    cause: str = "manual",
) -> None:
    """Members assigned (in ``after``) or removed (in ``before``), and the segment's
    ``segment.members.changed`` events (``cause``: manual, delete, import); nothing when
    there is no segment or no member."""
    if not segment_id or not (account_ids or portfolio_ids):
        return
    segment = Segment.all_objects.get(pk=segment_id)
    account_ids, portfolio_ids = list(account_ids), list(portfolio_ids)
    payload = members_payload(account_ids, portfolio_ids)
    members = {"accounts": account_ids, "portfolios": portfolio_ids}
    if action == HistoryAction.MEMBERS_ASSIGNED:
        record(segment, actor, action, None, payload)
        members_changed(segment, cause=cause, added=members)
    else:
        record(segment, actor, action, payload, None)
        members_changed(segment, cause=cause, removed=members)


def record_move(previous_segment_id, segment_id, actor, **members: list) -> None:
    """A member that changed segment: removed from the one it left, assigned to the one it
    joined (either may be none)."""
    if segment_id == previous_segment_id:
        return
    record_membership(previous_segment_id, actor, HistoryAction.MEMBERS_REMOVED, **members)
    record_membership(segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, **members)
