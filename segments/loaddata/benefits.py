"""The segments' benefits in the load data (issue #13): rows for COPY, then their first
versions in SQL.

Rules the generated benefits follow (the services' rules, ``services.benefits``):

- only live segments have benefits, ``--benefits-per-segment`` of them on average (each
  segment between max(1, n − 2) and n + 2); a benefit's organization and ledger are its
  segment's, and it is created after its segment;
- names come from one catalog without repeats inside a segment, so they are unique
  (case-insensitively) among the segment's live benefits;
- parameters come from the catalog too, each what its kind takes
  (``benefit_kinds.validate_parameters``);
- an exclusivity group is only ever a pair of ACTIVE, open-window benefits with priorities
  10 and 20: the second is outranked by the first, and no two ACTIVE benefits of a segment
  share a group and a priority (no 9012 ambiguity); ungrouped benefits have priority 100;
- about one in ten ungrouped benefits has expired (``validUntil`` in the past), one in ten
  starts in the future and one in ten is INACTIVE; the bench ledger's big segment has one
  of each besides its grouped pair;
- every benefit is at version 1 and has its version-1 ``BenefitVersion``, written from the
  benefit's own row (so they match), by the bench user, at the benefit's creation time.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from segments.loaddata.history import uuid7_sql
from segments.models import Benefit, BenefitVersion

BENEFIT_COLUMNS = (
    "id", "status_code", "status_description", "metadata", "created_at", "updated_at",
    "name", "description", "kind", "parameters", "valid_from", "valid_until", "priority",
    "exclusivity_group", "version", "ledger_id", "organization_id", "segment_id",
)  # fmt: skip
UNGROUPED_PRIORITY = 100
GROUPED_PRIORITIES = (10, 20)
GROUPED_SHARE = 0.4
EXPIRED, FUTURE, INACTIVE, OPEN = "expired", "future", "inactive", "open"
STATE_SHARES = ((EXPIRED, 0.1), (FUTURE, 0.1), (INACTIVE, 0.1))
BIG_SEGMENT_STATES = (EXPIRED, FUTURE, INACTIVE)

# (name, kind, parameters): the benefits a segment may have, each at most once.
SINGLES = (
    ("Fee-free account", "feeWaiver", {"feeKeys": ["maintenance"]}),
    ("Free instant transfers", "feeWaiver",
     {"feeKeys": ["pix", "ted"], "transactionRoute": "transfer"}),
    ("Card fee discount", "feeDiscount", {"percentage": "50"}),
    ("Wire fee rebate", "feeDiscount", {"amount": "5.00", "assetCode": "BRL"}),
    ("Education cashback", "cashback",
     {"percentage": "2", "assetCode": "BRL", "transactionRoute": "education"}),
    ("Savings rate bonus", "rateBonus", {"basisPoints": 25, "appliesTo": "savings"}),
    ("Deposit rate bonus", "rateBonus", {"basisPoints": 50, "appliesTo": "deposit"}),
    ("Double points", "pointsMultiplier", {"multiplier": "2"}),
    ("Points boost", "pointsMultiplier", {"multiplier": "1.5"}),
    ("Concierge", "service", {"serviceCode": "concierge"}),
    ("Travel insurance", "service", {"serviceCode": "travel-insurance", "provider": "Segura"}),
    ("Cinema partner", "custom", {"partner": "cinema", "discountCode": "SEG10", "stack": False}),
)  # fmt: skip
# (group, first, second): two benefits that do not stack; the first (priority 10) wins.
PAIRS = (
    ("cashback",
     ("Premium cashback", "cashback",
      {"percentage": "3", "assetCode": "BRL", "cap": {"amount": "100.00", "period": "month"}}),
     ("Standard cashback", "cashback",
      {"percentage": "1", "assetCode": "BRL", "cap": {"amount": "50.00", "period": "month"}})),
    ("lounge",
     ("Unlimited lounge", "service", {"serviceCode": "vip-lounge", "provider": "LoungeKey"}),
     ("Lounge passes", "service",
      {"serviceCode": "vip-lounge", "provider": "LoungeKey",
       "allowance": {"count": 4, "period": "year"}})),
    ("card-fee",
     ("Card fee waiver", "feeWaiver", {"feeKeys": ["card-annual"]}),
     ("Card fee half off", "feeDiscount", {"percentage": "50"})),
)  # fmt: skip


@dataclass(frozen=True)
class SegmentRef:
    """What a segment's benefits copy from it."""

    id: str
    organization_id: str
    ledger_id: str | None
    big: bool = False


@dataclass(frozen=True)
class Draft:
    """One benefit of a segment before it has an id and a time."""

    name: str
    kind: str
    parameters: dict
    state: str = OPEN
    group: str | None = None
    priority: int = UNGROUPED_PRIORITY


class BenefitRows:
    """The benefits of the given segments, in creation order, as COPY takes them."""

    def __init__(self, rng: random.Random, now: dt.datetime, per_segment: int) -> None:
        self.rng = rng
        self.now = now
        self.per_segment = per_segment
        self.count = 0

    def benefits_per_segment(self, segment: SegmentRef) -> int:
        if segment.big:
            return 2 + len(BIG_SEGMENT_STATES)
        if self.per_segment <= 0:
            return 0
        return self.rng.randint(max(1, self.per_segment - 2), self.per_segment + 2)

    def drafts(self, segment: SegmentRef, count: int) -> list[Draft]:
        """``count`` benefits with distinct names: a grouped pair first (always for the big
        segment, else sometimes when there are two or more), then ungrouped ones."""
        drafts: list[Draft] = []
        if count >= 2 and (segment.big or self.rng.random() < GROUPED_SHARE):
            group, *pair = self.rng.choice(PAIRS)
            for priority, (name, kind, parameters) in zip(GROUPED_PRIORITIES, pair, strict=True):
                drafts.append(Draft(name, kind, parameters, group=group, priority=priority))
        singles = self.rng.sample(SINGLES, min(count - len(drafts), len(SINGLES)))
        for index, (name, kind, parameters) in enumerate(singles):
            state = BIG_SEGMENT_STATES[index] if segment.big else self._state()
            drafts.append(Draft(name, kind, parameters, state=state))
        return drafts

    def _state(self) -> str:
        draw = self.rng.random()
        for state, share in STATE_SHARES:
            if draw < share:
                return state
            draw -= share
        return OPEN

    def _window(self, state: str, created: dt.datetime) -> tuple:
        if state == EXPIRED:
            until = created + (self.now - created) * self.rng.uniform(0.1, 0.9)
            return created, until
        if state == FUTURE:
            starts = self.now + dt.timedelta(days=self.rng.randint(7, 180))
            return starts, (starts + dt.timedelta(days=365)) if self.rng.random() < 0.5 else None
        return (created if self.rng.random() < 0.5 else None), None

    def row(self, pk: str, created: dt.datetime, segment: SegmentRef, draft: Draft) -> tuple:
        valid_from, valid_until = self._window(draft.state, created)
        inactive = draft.state == INACTIVE
        self.count += 1
        return (
            pk, "INACTIVE" if inactive else "ACTIVE", "Paused" if inactive else None,
            json.dumps({"campaign": f"C{self.count % 40:02d}"}) if self.count % 3 == 0 else "{}",
            created, created, draft.name, f"{draft.name} for the segment's clients.",
            draft.kind, json.dumps(draft.parameters), valid_from, valid_until, draft.priority,
            draft.group, 1, segment.ledger_id, segment.organization_id, segment.id,
        )  # fmt: skip


VERSIONS_SQL = (
    "INSERT INTO {versions} (id, benefit_id, version, kind, parameters, valid_from, "
    "valid_until, status_code, status_description, priority, exclusivity_group, actor_id, "
    "actor_name, created_at) "
    "SELECT {version_id}::uuid, b.id, b.version, b.kind, b.parameters, b.valid_from, "
    "b.valid_until, b.status_code, b.status_description, b.priority, b.exclusivity_group, "
    "%s, %s, b.created_at FROM {benefits} b"
)


def write_versions(cursor, actor_id: int, actor_name: str) -> None:
    """Each benefit's version 1, copied from its own row, stamped (id and ``created_at``)
    with the benefit's creation time."""
    cursor.execute(
        VERSIONS_SQL.format(
            versions=BenefitVersion._meta.db_table,
            benefits=Benefit._meta.db_table,
            version_id=uuid7_sql("b.created_at", "v1", "b.id"),
        ),
        [actor_id, actor_name],
    )


def segments_with_benefits(loaded, ledger_org: list[int]) -> Iterator[SegmentRef]:
    """The live segments, ledger by ledger (the big segment first), then the
    organizations'."""
    for ledger, segment_ids in enumerate(loaded.ledger_segments):
        ledger_id = loaded.ledger_ids[ledger]
        organization_id = loaded.organization_ids[ledger_org[ledger]]
        if ledger == 0 and loaded.big_segment_id:
            yield SegmentRef(loaded.big_segment_id, organization_id, ledger_id, big=True)
        for pk in segment_ids:
            yield SegmentRef(pk, organization_id, ledger_id)
    for organization, segment_ids in enumerate(loaded.org_segments):
        for pk in segment_ids:
            yield SegmentRef(pk, loaded.organization_ids[organization], None)
