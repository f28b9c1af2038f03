"""Each table's rows, in creation order, as COPY takes them (a tuple per row, in the order
of the table's ``*_COLUMNS``). One seeded random generator draws every choice, so a seed
gives the same rows; only per-ledger id lists are kept (``Loaded``), never a row."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
from collections.abc import Iterator

from segments.loaddata.benefits import BenefitRows, segments_with_benefits
from segments.loaddata.shape import (
    Loaded,
    Plan,
    Uuid7Clock,
    cumulative,
    interleaved,
    zipf_weights,
)

BIG_SEGMENT_NAME = "Retail mass market"
SEGMENT_BASES = (
    "Black",
    "Platinum",
    "Gold",
    "Student",
    "Private",
    "Payroll",
    "SME",
    "Corporate",
    "Senior",
    "Youth",
    "Premium",
    "Digital",
    "Agro",
    "Travel",
    "Cashback",
    "Investor",
    "Merchant",
    "Salary",
    "Startup",
    "Family",
)
REGIONS = ("north", "south", "east", "west", "center")
CHANNELS = ("branch", "app", "web", "partner")
ACCOUNT_TYPES = ("deposit", "savings", "creditCard", "loan", "payroll")
ASSET_CODES = ("BRL", "BRL", "BRL", "USD", "EUR")
OTHER_STATUSES = ("INACTIVE", "PENDING", "SUSPENDED")
DELETED_SHARE = 0.01
METADATA_SHARE = 1 / 3
SPAN_DAYS = 730

ORGANIZATION_COLUMNS = (
    "id", "status_code", "metadata", "created_at", "updated_at",
    "legal_name", "legal_document", "doing_business_as", "address",
)  # fmt: skip
LEDGER_COLUMNS = (
    "id", "status_code", "metadata", "created_at", "updated_at", "organization_id",
    "name",
)  # fmt: skip
SEGMENT_COLUMNS = (
    "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
    "name", "description", "ledger_id", "organization_id",
)  # fmt: skip
PORTFOLIO_COLUMNS = (
    "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
    "name", "entity_id", "ledger_id", "organization_id", "segment_id",
)  # fmt: skip
ACCOUNT_COLUMNS = (
    "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
    "name", "type", "asset_code", "alias", "entity_id", "blocked",
    "parent_account_id", "ledger_id", "organization_id", "portfolio_id", "segment_id",
)  # fmt: skip
SEGMENT_DELETED_AT = SEGMENT_COLUMNS.index("deleted_at")
ACCOUNT_DELETED_AT = ACCOUNT_COLUMNS.index("deleted_at")


class Rows:
    """The generated tables, one generator each, to be consumed in this order:
    organizations, ledgers, segments, benefits, portfolios, accounts (each reads the ids
    the earlier ones left in ``loaded``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.loaded = Loaded()
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.origin = self.now - dt.timedelta(days=SPAN_DAYS)
        self.metadata_pool = self._metadata_pool()
        self.zipf = cumulative(zipf_weights(max(plan.segment_targets) + 1, 1.1))

    # ----------------------------------------------------------------------- drawing

    def _window(self, start_share: float, end_share: float, count: int) -> Uuid7Clock:
        span = self.now - self.origin
        return Uuid7Clock(
            self.rng, self.origin + span * start_share, self.origin + span * end_share, count
        )

    def _metadata_pool(self) -> list[str]:
        pool = []
        for index in range(400):
            pool.append(
                json.dumps(
                    {
                        "tier": SEGMENT_BASES[index % len(SEGMENT_BASES)].lower(),
                        "region": REGIONS[index % len(REGIONS)],
                        "channel": CHANNELS[index % len(CHANNELS)],
                        "score": index,
                    }
                )
            )
        return pool

    def _metadata(self) -> str:
        if self.rng.random() < METADATA_SHARE:
            return self.rng.choice(self.metadata_pool)
        return "{}"

    def _status(self, active_share: float) -> str:
        return "ACTIVE" if self.rng.random() < active_share else self.rng.choice(OTHER_STATUSES)

    def _deleted_at(self, created: dt.datetime) -> dt.datetime:
        return created + (self.now - created) * self.rng.random()

    def _segment_for(self, ledger: int, share: float) -> str | None:
        """None, an organization segment (5 %), or a ledger segment by Zipf rank."""
        draw = self.rng.random()
        if draw >= share:
            return None
        if draw < 0.05:
            pool = self.loaded.org_segments[self.plan.ledger_org[ledger]]
        else:
            pool = self.loaded.ledger_segments[ledger]
        if not pool:
            return None
        count = len(pool)
        pick = bisect.bisect_left(self.zipf, self.rng.random() * self.zipf[count - 1], 0, count)
        return pool[min(pick, count - 1)]

    # ----------------------------------------------------------------------- tables

    def organizations(self) -> Iterator[tuple]:
        clock = self._window(0.0, 0.01, self.plan.organizations)
        for index in range(self.plan.organizations):
            pk, created = clock.at(index)
            self.loaded.organization_ids.append(pk)
            address = {"line1": f"Av. Paulista {1000 + index}", "city": "São Paulo",
                       "country": "BR"}  # fmt: skip
            yield (
                pk, "ACTIVE", self._metadata(), created, created,
                f"Load Bank {index + 1:02d}", f"{index + 1:014d}", f"LB{index + 1:02d}",
                json.dumps(address),
            )  # fmt: skip

    def ledgers(self) -> Iterator[tuple]:
        clock = self._window(0.01, 0.05, self.plan.ledgers)
        for index in range(self.plan.ledgers):
            pk, created = clock.at(index)
            self.loaded.ledger_ids.append(pk)
            organization = self.loaded.organization_ids[self.plan.ledger_org[index]]
            yield (pk, "ACTIVE", self._metadata(), created, created, organization,
                   f"Ledger {index + 1:04d}")  # fmt: skip

    def segments(self) -> Iterator[tuple]:
        """Ledger segments then organization segments share one timeline. Rank 0 of ledger
        0 is the big segment."""
        plan = self.plan
        live_by_rank: list[list[str | None]] = [[None] * n for n in plan.segment_targets]
        clock = self._window(0.05, 0.5, plan.segments)
        for index, (bucket, rank) in enumerate(interleaved(plan.segment_targets)):
            pk, created = clock.at(index)
            row = self._segment_row(pk, created, bucket, rank)
            if row[SEGMENT_DELETED_AT] is None:
                live_by_rank[bucket][rank] = pk
            if self._is_big_segment(bucket, rank):
                self.loaded.big_segment_id = pk
            yield row
        self._keep_live_segments(live_by_rank)

    def _is_big_segment(self, bucket: int, rank: int) -> bool:
        return self.plan.big_segment > 0 and bucket == 0 and rank == 0

    def _segment_row(self, pk: str, created: dt.datetime, bucket: int, rank: int) -> tuple:
        """A deleted segment takes the name of the live one ranked before it in another
        case (allowed: uniqueness counts live rows only)."""
        plan = self.plan
        is_org = bucket >= plan.ledgers
        organization_index = bucket - plan.ledgers if is_org else plan.ledger_org[bucket]
        big = self._is_big_segment(bucket, rank)
        deleted = not big and rank > 0 and self.rng.random() < DELETED_SHARE
        base = SEGMENT_BASES[rank % len(SEGMENT_BASES)]
        name = BIG_SEGMENT_NAME if big else f"{base} {rank}"
        deleted_at = None
        if deleted:
            name = f"{SEGMENT_BASES[(rank - 1) % len(SEGMENT_BASES)]} {rank - 1}".upper()
            deleted_at = self._deleted_at(created)
        return (
            pk,
            "ACTIVE" if big else self._status(0.9),
            self._metadata(),
            created,
            deleted_at or created,
            deleted_at,
            ("Org " + name) if is_org else name,
            f"Benefits of the {base.lower()} clients: fee waivers and cashback.",
            None if is_org else self.loaded.ledger_ids[bucket],
            self.loaded.organization_ids[organization_index],
        )

    def _keep_live_segments(self, live_by_rank: list[list[str | None]]) -> None:
        """The live segments members are drawn from, by rank; the big segment is not among
        them (its members are the bench ledger's first accounts)."""
        live = [[pk for pk in ranks if pk is not None] for ranks in live_by_rank]
        if self.plan.big_segment:
            live[0] = [pk for pk in live[0] if pk != self.loaded.big_segment_id]
        self.loaded.ledger_segments = live[: self.plan.ledgers]
        self.loaded.org_segments = live[self.plan.ledgers :]

    def benefits(self) -> Iterator[tuple]:
        """The live segments' benefits (``loaddata.benefits``), created after every segment;
        only each segment's count is drawn ahead (for the clock), never a row."""
        drawing = BenefitRows(self.rng, self.now, self.plan.benefits_per_segment)
        counts = [
            drawing.benefits_per_segment(segment)
            for segment in segments_with_benefits(self.loaded, self.plan.ledger_org)
        ]
        clock = self._window(0.5, 0.55, sum(counts))
        index = 0
        live = segments_with_benefits(self.loaded, self.plan.ledger_org)
        for segment, count in zip(live, counts, strict=True):
            for draft in drawing.drafts(segment, count):
                pk, created = clock.at(index)
                index += 1
                yield drawing.row(pk, created, segment, draft)
        self.loaded.benefits = index

    def portfolios(self) -> Iterator[tuple]:
        plan, rng = self.plan, self.rng
        live: list[list[str]] = [[] for _ in range(plan.ledgers)]
        clock = self._window(0.05, 0.9, plan.portfolios)
        for index, (ledger, rank) in enumerate(interleaved(plan.portfolio_targets)):
            pk, created = clock.at(index)
            deleted_at = None
            if rng.random() < DELETED_SHARE:
                deleted_at = self._deleted_at(created)
            else:
                live[ledger].append(pk)
            yield (
                pk, self._status(0.95), self._metadata(), created, deleted_at or created,
                deleted_at, f"Portfolio {ledger + 1}-{rank + 1}", f"HOLDER-{index + 1:08d}",
                self.loaded.ledger_ids[ledger],
                self.loaded.organization_ids[plan.ledger_org[ledger]],
                self._segment_for(ledger, 0.25),
            )  # fmt: skip
        self.loaded.ledger_portfolios = live

    def accounts(self) -> Iterator[tuple]:
        """An account's parent, when it has one, is the last live account of its ledger."""
        last_live: list[str | None] = [None] * self.plan.ledgers
        clock = self._window(0.05, 0.999, self.plan.accounts)
        for index, (ledger, rank) in enumerate(interleaved(self.plan.account_targets)):
            pk, created = clock.at(index)
            row = self._account_row(pk, created, index, ledger, rank, last_live[ledger])
            if row[ACCOUNT_DELETED_AT] is None:
                last_live[ledger] = pk
            yield row

    def _account_row(
        self,
        pk: str,
        created: dt.datetime,
        index: int,
        ledger: int,
        rank: int,
        last_live: str | None,
    ) -> tuple:
        plan, rng, loaded = self.plan, self.rng, self.loaded
        in_big = ledger == 0 and rank < plan.big_segment
        segment = loaded.big_segment_id if in_big else self._segment_for(ledger, 0.7)
        portfolios = loaded.ledger_portfolios[ledger]
        portfolio = rng.choice(portfolios) if portfolios and rng.random() < 0.3 else None
        parent = last_live if rng.random() < 0.02 else None
        deleted_at = None
        if rng.random() < DELETED_SHARE and not in_big:  # the big segment stays whole
            deleted_at = self._deleted_at(created)
        return (
            pk, self._status(0.95), self._metadata(), created, deleted_at or created,
            deleted_at, f"Account {index + 1}", ACCOUNT_TYPES[index % len(ACCOUNT_TYPES)],
            ASSET_CODES[rank % len(ASSET_CODES)],
            f"@acc-{index + 1:07d}" if index % 5 < 3 else None,
            f"CUST-{rng.getrandbits(30):09d}" if index % 2 else None,
            rng.random() < 0.02, parent, loaded.ledger_ids[ledger],
            loaded.organization_ids[plan.ledger_org[ledger]], portfolio, segment,
        )  # fmt: skip
