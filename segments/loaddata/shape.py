"""The shape of the load: UUIDv7 ids spread over a timeline, rows interleaved between
buckets, skewed (Zipf-like) sizes, and the plan that turns the command's counts into
per-ledger row counts. Nothing here touches the database."""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.core.management.base import CommandError

PERMUTATION_PRIME = 2_147_483_647  # coprime with any row count below it


class Uuid7Clock:
    """UUIDv7 ids spread evenly over [start, end): the id's 48-bit timestamp is the row's
    ``created_at`` in milliseconds, and a 12-bit counter keeps ids strictly increasing when
    two rows share a millisecond."""

    def __init__(
        self, rng: random.Random, start: dt.datetime, end: dt.datetime, count: int
    ) -> None:
        self.rng = rng
        self.start_ms = int(start.timestamp() * 1000)
        self.span_ms = max(1, int((end - start).total_seconds() * 1000))
        self.count = max(1, count)
        self.last_ms = -1
        self.counter = 0

    def at(self, index: int) -> tuple[str, dt.datetime]:
        ms = self.start_ms + index * self.span_ms // self.count
        if ms <= self.last_ms:
            ms = self.last_ms
            self.counter += 1
            if self.counter > 0xFFF:
                ms, self.counter = ms + 1, 0
        else:
            self.counter = 0
        self.last_ms = ms
        value = (
            (ms << 80)
            | (0x7 << 76)
            | (self.counter << 64)
            | (0b10 << 62)
            | self.rng.getrandbits(62)
        )
        text = f"{value:032x}"
        uid = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        return uid, dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def interleaved(targets: Sequence[int]) -> Iterator[tuple[int, int]]:
    """For rows 0..sum(targets)-1 in creation order, the bucket of each row and its rank
    inside the bucket. Each bucket gets exactly its target, spread over the whole timeline
    (a multiplicative permutation), and ranks 0..target-1 each appear once."""
    cumulative: list[int] = []
    total = 0
    for target in targets:
        total += target
        cumulative.append(total)
    if total >= PERMUTATION_PRIME:
        raise CommandError(f"Too many rows for one table ({total}).")
    offset = total // 3
    for index in range(total):
        position = (PERMUTATION_PRIME * index + offset) % total
        bucket = bisect.bisect_right(cumulative, position)
        yield bucket, position - (cumulative[bucket - 1] if bucket else 0)


def split(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """``total`` split by ``weights`` into whole numbers that add up exactly (largest
    remainder), each at least ``minimum`` when the total allows it."""
    if not weights:
        return []
    floor_each = minimum if total >= minimum * len(weights) else 0
    rest = total - floor_each * len(weights)
    weight_sum = sum(weights)
    shares = [rest * weight / weight_sum for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: rest - sum(counts)]:
        counts[i] += 1
    return [count + floor_each for count in counts]


def zipf_weights(count: int, exponent: float) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


def cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


@dataclass
class Plan:
    organizations: int
    ledgers: int
    segments: int
    accounts: int
    portfolios: int
    big_segment: int
    seed: int
    benefits_per_segment: int = 3
    org_segments: int = 0
    ledger_org: list[int] = field(default_factory=list)
    segment_targets: list[int] = field(default_factory=list)
    account_targets: list[int] = field(default_factory=list)
    portfolio_targets: list[int] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        """The rows COPY writes; the benefits' count is the expected one (it is drawn)."""
        tables = self.organizations + self.ledgers + self.segments + self.portfolios
        return tables + self.accounts + self.segments * self.benefits_per_segment

    def build(self) -> None:
        """Per-ledger row counts. Ledger 0 is the bench ledger: it holds the big segment."""
        self.ledger_org = [index % self.organizations for index in range(self.ledgers)]
        self.org_segments = min(self.segments // 2, max(self.organizations, self.segments // 50))
        ledger_segments = self.segments - self.org_segments
        self.segment_targets = split(
            ledger_segments, zipf_weights(self.ledgers, 0.5), minimum=1
        ) + split(self.org_segments, [1.0] * self.organizations)
        if self.big_segment and self.segment_targets[0] == 0:
            raise CommandError("The bench ledger needs at least one segment.")
        account_weights = zipf_weights(self.ledgers, 0.8)
        self.account_targets = split(self.accounts - self.big_segment, account_weights)
        self.account_targets[0] += self.big_segment
        self.portfolio_targets = split(self.portfolios, account_weights)


@dataclass
class Loaded:
    """What later tables need to know about earlier ones: ids only, per ledger."""

    organization_ids: list[str] = field(default_factory=list)
    ledger_ids: list[str] = field(default_factory=list)
    ledger_segments: list[list[str]] = field(default_factory=list)  # live, by rank
    org_segments: list[list[str]] = field(default_factory=list)
    ledger_portfolios: list[list[str]] = field(default_factory=list)  # live
    big_segment_id: str | None = None
    benefits: int = 0
