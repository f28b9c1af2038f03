"""Whether the change a segment history entry records went out to other systems.

**The link.** An entry and its change's outbox events are written in one transaction
(``shared/spec/events.md``), and both rows carry that transaction's id, ``txid``, as a
column default (``segments.models.transactions``): no service passes anything, so every
change that records history is linked, whatever its path. An entry's events are the events
of its transaction **about its segment or one of the segment's benefits** (their
``subject``): a member moved between two segments in one transaction is two entries, and
each is told about its own segment's ``segment.members.changed`` only. Entries of one
segment written in the same transaction (a rule change and the members it moved) share
their events.

**The outcome**, from the statuses of those events: ``dead`` if any is dead (it failed and
will not be sent unless retried in the admin), else ``pending`` if any is still waiting,
else ``published`` (all sent). An entry without events — written before the link existed,
on a database without transaction ids (SQLite), or whose published events were pruned
after the retention period — has no outcome.

``outcomes`` reads a page of entries in two queries whatever its length (the segments'
benefit ids, then the events by subject, which the ``(subject, id)`` index serves).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from segments.models import Benefit, Event, EventStatus, SegmentHistory

# the outcome of several events: the first status found among them, in this order
PRECEDENCE = (EventStatus.DEAD, EventStatus.PENDING, EventStatus.PUBLISHED)


def outcomes(entries: Iterable[SegmentHistory]) -> dict[uuid.UUID, str]:
    """Each linked entry's outcome (``dead``, ``pending`` or ``published``) by entry id;
    entries without events are left out."""
    linked = [entry for entry in entries if entry.txid is not None]
    if not linked:
        return {}
    segment_of = {str(entry.segment_id): entry.segment_id for entry in linked}
    benefits = Benefit.all_objects.filter(segment_id__in=set(segment_of.values()))
    for benefit_id, segment_id in benefits.values_list("pk", "segment_id"):
        segment_of[str(benefit_id)] = segment_id
    rows = (
        Event.objects.filter(txid__in={entry.txid for entry in linked}, subject__in=segment_of)
        .order_by()
        .values_list("txid", "subject", "status")
        .distinct()
    )
    statuses: dict[tuple[int, uuid.UUID], set[str]] = {}
    for txid, subject, status in rows:
        statuses.setdefault((txid, segment_of[subject]), set()).add(status)
    found: dict[uuid.UUID, str] = {}
    for entry in linked:
        seen = statuses.get((entry.txid, entry.segment_id), set())
        outcome = next((status for status in PRECEDENCE if status in seen), None)
        if outcome is not None:
            found[entry.pk] = str(outcome)
    return found
