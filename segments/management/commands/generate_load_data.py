"""Bank-scale load data for benchmarks (issue #7), written with PostgreSQL COPY.

Rules the generated data follows (the same the services enforce):

- every id is a UUIDv7 whose timestamp is the row's ``created_at``; within a table ids and
  creation times increase together;
- segment names are unique, case-insensitively, among the live segments of their scope
  (ledger or organization); soft-deleted segments may reuse a live name (the partial unique
  indexes allow it) and never have members;
- account aliases are unique per ledger; an account's portfolio and parent account are live
  rows of its own ledger (parents are created earlier, so there are no cycles); its segment
  is a live segment of its ledger or of its organization;
- status codes are ACTIVE / INACTIVE / PENDING / SUSPENDED; organizations and ledgers are
  never deleted (they hold live children);
- segment sizes are skewed (Zipf-like), and the first segment of the first ledger, "Retail
  mass market", holds exactly ``--big-segment-size`` live accounts (default 500,000; clamped to
  half of the accounts on small runs) for the member-count scenario;
- a third of the rows carry metadata, about 1 % are soft-deleted;
- every segment has its "created" history entry (a deleted one also its "deleted" entry);
- the user ``bench`` (password ``bench``) is admin of every generated organization and gets a
  fresh API token, printed at the end.

Rows are streamed into COPY (nothing is held per account), so memory stays flat; secondary
indexes are dropped for the load and rebuilt afterwards (``--keep-indexes`` to load into
indexed tables instead). Foreign keys are checked once, set-based, after the load instead of
one trigger per row; any orphan aborts the whole load (one transaction). After the commit
the tables are VACUUM (ANALYZE)d so index-only scans work.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from segments import counters
from segments.models import (
    Account,
    ApiToken,
    Ledger,
    Membership,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
)

BENCH_USERNAME = "bench"
BIG_SEGMENT_NAME = "Retail mass market"
PERMUTATION_PRIME = 2_147_483_647  # coprime with any row count below it
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


# --------------------------------------------------------------------------- ids and time


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


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    organizations: int
    ledgers: int
    segments: int
    accounts: int
    portfolios: int
    big_segment: int
    seed: int
    org_segments: int = 0
    ledger_org: list[int] = field(default_factory=list)
    segment_targets: list[int] = field(default_factory=list)
    account_targets: list[int] = field(default_factory=list)
    portfolio_targets: list[int] = field(default_factory=list)

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


# --------------------------------------------------------------------------- the command


class Command(BaseCommand):
    help = (
        "Load bank-scale benchmark data (PostgreSQL only, COPY based): organizations, "
        "ledgers, segments, portfolios and accounts with a realistic, skewed shape, and "
        "the user 'bench' with an API token."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organizations", type=int, default=10)
        parser.add_argument("--ledgers", type=int, default=1000)
        parser.add_argument("--segments", type=int, default=100_000)
        parser.add_argument("--accounts", type=int, default=1_000_000)
        parser.add_argument("--portfolios", type=int, default=100_000)
        parser.add_argument(
            "--big-segment-size",
            type=int,
            default=500_000,
            help="accounts in the bench ledger's 'Retail mass market' segment "
            "(clamped to half the accounts; 0 for none)",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--reset",
            action="store_true",
            help="empty the segments tables first (refused without it when they hold rows)",
        )
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="COPY into indexed tables instead of dropping and rebuilding secondary indexes",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "generate_load_data needs PostgreSQL (it loads with COPY); "
                f"DATABASE_URL points at {connection.vendor}. "
                "Set DATABASE_URL=postgres://USER@HOST:PORT/DBNAME."
            )
        plan = self._plan(options)
        started = time.perf_counter()
        progress = tqdm(
            total=plan.organizations
            + plan.ledgers
            + plan.segments
            + plan.portfolios
            + plan.accounts,
            unit="row",
            unit_scale=True,
            disable=options["no_progress"],
            mininterval=0.5,
        )
        timings: dict[str, float] = {}
        with transaction.atomic():
            user = self._bench_user()
            self._empty_tables(reset=options["reset"])
            raw = connection.cursor().connection  # the psycopg connection
            with raw.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                replication_off = self._skip_row_triggers(cursor)
                dropped = [] if options["keep_indexes"] else self._drop_indexes(cursor)
                loader = Loader(cursor, plan, progress, user.pk)
                mark = time.perf_counter()
                loader.load()
                timings["copy"] = time.perf_counter() - mark
                mark = time.perf_counter()
                for statement in dropped:
                    cursor.execute(statement)
                timings["indexes"] = time.perf_counter() - mark
                mark = time.perf_counter()
                if replication_off:
                    cursor.execute("SET LOCAL session_replication_role = origin")
                    self._check_references(cursor)
                timings["checks"] = time.perf_counter() - mark
                mark = time.perf_counter()
                # The member counters' triggers did not fire with replication off.
                counters.recount(cursor, "postgresql")
                timings["counters"] = time.perf_counter() - mark
                loader.history()
            self._memberships(user, loader.loaded.organization_ids)
            _, token = ApiToken.issue(user, name="bench")
        progress.close()
        mark = time.perf_counter()
        self._vacuum()
        timings["vacuum"] = time.perf_counter() - mark
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._report(plan, loader.loaded, timings, elapsed, peak_mb, token)

    # ----------------------------------------------------------------------- steps

    def _plan(self, options: dict[str, Any]) -> Plan:
        counts = {
            name: options[name]
            for name in ("organizations", "ledgers", "segments", "accounts", "portfolios")
        }
        for name, value in counts.items():
            if value < 1:
                raise CommandError(f"--{name} must be at least 1.")
        if counts["ledgers"] < counts["organizations"]:
            raise CommandError("--ledgers must be at least --organizations.")
        if counts["segments"] < counts["ledgers"] + counts["organizations"]:
            raise CommandError("--segments must be at least --ledgers + --organizations.")
        big = max(0, options["big_segment_size"])
        if big > counts["accounts"] // 2:
            big = counts["accounts"] // 2
            self.stderr.write(f"Note: big segment clamped to {big} accounts (half the accounts).")
        plan = Plan(big_segment=big, seed=options["seed"], **counts)
        plan.build()
        return plan

    def _bench_user(self):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=BENCH_USERNAME)
        if created:
            user.set_password(BENCH_USERNAME)
            user.save()
        return user

    def _empty_tables(self, *, reset: bool) -> None:
        """The load starts from empty segments tables; they are TRUNCATEd in this transaction,
        which also lets COPY write frozen rows."""
        if not reset and Organization.all_objects.exists():
            raise CommandError(
                "The database already holds organizations; use --reset to empty the segments "
                "tables first (this deletes every organization, ledger, segment, portfolio, "
                "account, membership and history row)."
            )
        tables = ", ".join(
            model._meta.db_table
            for model in (
                SegmentHistory,
                Membership,
                Account,
                Portfolio,
                Segment,
                Ledger,
                Organization,
            )
        )
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")

    def _skip_row_triggers(self, cursor) -> bool:
        """A superuser loads without per-row foreign-key triggers and checks every reference
        once, set-based, afterwards (``_check_references``); others keep the triggers."""
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if not row or not row[0]:
            self.stderr.write("Note: not a superuser, foreign keys are checked row by row.")
            return False
        cursor.execute("SET LOCAL session_replication_role = replica")
        return True

    def _drop_indexes(self, cursor) -> list[str]:
        """Drop the secondary indexes of the big tables (primary keys stay: UUIDv7 keys
        append at the right edge); returns the statements that rebuild them."""
        tables = [model._meta.db_table for model in (Account, Portfolio, Segment)]
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef
            FROM pg_indexes i
            JOIN pg_class c ON c.relname = i.indexname
            WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
            ORDER BY i.tablename, i.indexname
            """,
            [tables],
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f'DROP INDEX "{name}"')
        return [definition for _, definition in found]

    def _check_references(self, cursor) -> None:
        """Every foreign key of the loaded tables points at an existing row (what the
        skipped triggers would have checked), and no row points at a deleted segment."""
        checks = []
        for model in (Ledger, Segment, Portfolio, Account, SegmentHistory):
            for fk in model._meta.concrete_fields:
                if not fk.is_relation:
                    continue
                target = fk.related_model._meta
                checks.append(
                    f"SELECT '{model._meta.db_table}.{fk.column}' FROM {model._meta.db_table} t "
                    f"WHERE t.{fk.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                    f"{target.db_table} p WHERE p.{target.pk.column} = t.{fk.column})"
                )
        for model in (Account, Portfolio):
            checks.append(
                f"SELECT '{model._meta.db_table} in deleted segment' FROM "
                f"{model._meta.db_table} t JOIN {Segment._meta.db_table} s "
                "ON s.id = t.segment_id WHERE s.deleted_at IS NOT NULL"
            )
        for check in checks:
            cursor.execute(check + " LIMIT 1")
            broken = cursor.fetchone()
            if broken:
                raise CommandError(f"Generated data breaks a reference: {broken[0]}.")

    def _memberships(self, user, organization_ids: list[str]) -> None:
        Membership.objects.bulk_create(
            [Membership(user=user, organization_id=pk, role=Role.ADMIN) for pk in organization_ids]
        )

    def _vacuum(self) -> None:
        with connection.cursor() as cursor:
            for model in (Organization, Ledger, Segment, Portfolio, Account, SegmentHistory):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")

    def _report(
        self,
        plan: Plan,
        loaded: Loaded,
        timings: dict[str, float],
        elapsed: float,
        peak_mb: float,
        token: str,
    ) -> None:
        organization_id = loaded.organization_ids[0]
        ledger_id = loaded.ledger_ids[0]
        lines = [
            "",
            f"Loaded {plan.organizations} organizations, {plan.ledgers} ledgers, "
            f"{plan.segments} segments ({plan.org_segments} organization-level), "
            f"{plan.portfolios} portfolios, {plan.accounts} accounts "
            f"in {elapsed:.1f} s",
            "  " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()),
            f"  peak RSS: {peak_mb:.0f} MB",
            f"  bench organization: {organization_id}",
            f"  bench ledger:       {ledger_id}  ({plan.account_targets[0]} accounts, "
            f"{plan.segment_targets[0]} segments)",
            f"  big segment:        {loaded.big_segment_id}  ({plan.big_segment} accounts)",
            "  user: bench / bench (admin of every generated organization)",
            f"  API token (user bench): {token}",
        ]
        self.stdout.write("\n".join(lines))


# --------------------------------------------------------------------------- the rows


class Loader:
    """Streams each table into COPY in creation order, keeping only per-ledger id lists."""

    def __init__(self, cursor, plan: Plan, progress: tqdm, actor_id: int) -> None:
        self.cursor = cursor
        self.plan = plan
        self.progress = progress
        self.actor_id = actor_id
        self.rng = random.Random(plan.seed)
        self.loaded = Loaded()
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.origin = self.now - dt.timedelta(days=SPAN_DAYS)
        self.metadata_pool = self._metadata_pool()
        self.zipf = cumulative(zipf_weights(max(plan.segment_targets) + 1, 1.1))

    def load(self) -> None:
        self._copy(Organization, self._organizations())
        self._copy(Ledger, self._ledgers())
        self._copy(Segment, self._segments())
        self._copy(Portfolio, self._portfolios())
        self._copy(Account, self._accounts())
        self.cursor.execute(
            "ANALYZE " + ", ".join(m._meta.db_table for m in (Ledger, Segment, Portfolio, Account))
        )

    def _copy(self, model, rows: Iterator[tuple]) -> None:
        first = next(rows)
        columns = ", ".join(first)
        table = model._meta.db_table
        step = 0
        with self.cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)") as copy:
            for row in rows:
                copy.write_row(row)
                step += 1
                if step == 5000:
                    self.progress.update(step)
                    step = 0
        self.progress.update(step)

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

    # ----------------------------------------------------------------------- tables

    def _organizations(self) -> Iterator[tuple]:
        yield (
            "id", "status_code", "metadata", "created_at", "updated_at",
            "legal_name", "legal_document", "doing_business_as", "address",
        )  # fmt: skip
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

    def _ledgers(self) -> Iterator[tuple]:
        yield (
            "id", "status_code", "metadata", "created_at", "updated_at", "organization_id",
            "name",
        )  # fmt: skip
        clock = self._window(0.01, 0.05, self.plan.ledgers)
        for index in range(self.plan.ledgers):
            pk, created = clock.at(index)
            self.loaded.ledger_ids.append(pk)
            organization = self.loaded.organization_ids[self.plan.ledger_org[index]]
            yield (pk, "ACTIVE", self._metadata(), created, created, organization,
                   f"Ledger {index + 1:04d}")  # fmt: skip

    def _segments(self) -> Iterator[tuple]:
        """Ledger segments then organization segments share one timeline. Rank 0 of ledger
        0 is the big segment; a deleted segment takes the name of the live one ranked
        before it in another case (allowed: uniqueness counts live rows only)."""
        yield (
            "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
            "name", "description", "ledger_id", "organization_id",
        )  # fmt: skip
        plan, rng, ledgers = self.plan, self.rng, self.plan.ledgers
        by_rank: list[list[str | None]] = [[None] * n for n in plan.segment_targets]
        clock = self._window(0.05, 0.5, plan.segments)
        for index, (bucket, rank) in enumerate(interleaved(plan.segment_targets)):
            pk, created = clock.at(index)
            is_org = bucket >= ledgers
            organization_index = bucket - ledgers if is_org else plan.ledger_org[bucket]
            big = plan.big_segment > 0 and bucket == 0 and rank == 0
            deleted = not big and rank > 0 and rng.random() < DELETED_SHARE
            base = SEGMENT_BASES[rank % len(SEGMENT_BASES)]
            name = BIG_SEGMENT_NAME if big else f"{base} {rank}"
            deleted_at = None
            if deleted:
                previous = f"{SEGMENT_BASES[(rank - 1) % len(SEGMENT_BASES)]} {rank - 1}"
                name = previous.upper()
                deleted_at = created + (self.now - created) * rng.random()
            else:
                by_rank[bucket][rank] = pk
            if big:
                self.loaded.big_segment_id = pk
            yield (
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
        live = [[pk for pk in ranks if pk is not None] for ranks in by_rank]
        if plan.big_segment:
            live[0] = [pk for pk in live[0] if pk != self.loaded.big_segment_id]
        self.loaded.ledger_segments = live[:ledgers]
        self.loaded.org_segments = live[ledgers:]

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

    def _portfolios(self) -> Iterator[tuple]:
        yield (
            "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
            "name", "entity_id", "ledger_id", "organization_id", "segment_id",
        )  # fmt: skip
        plan, rng = self.plan, self.rng
        live: list[list[str]] = [[] for _ in range(plan.ledgers)]
        clock = self._window(0.05, 0.9, plan.portfolios)
        for index, (ledger, rank) in enumerate(interleaved(plan.portfolio_targets)):
            pk, created = clock.at(index)
            deleted_at = None
            if rng.random() < DELETED_SHARE:
                deleted_at = created + (self.now - created) * rng.random()
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

    def _accounts(self) -> Iterator[tuple]:
        yield (
            "id", "status_code", "metadata", "created_at", "updated_at", "deleted_at",
            "name", "type", "asset_code", "alias", "entity_id", "blocked",
            "parent_account_id", "ledger_id", "organization_id", "portfolio_id", "segment_id",
        )  # fmt: skip
        plan, rng, loaded = self.plan, self.rng, self.loaded
        last_live: list[str | None] = [None] * plan.ledgers
        clock = self._window(0.05, 0.999, plan.accounts)
        ledger_org = [loaded.organization_ids[org] for org in plan.ledger_org]
        for index, (ledger, rank) in enumerate(interleaved(plan.account_targets)):
            pk, created = clock.at(index)
            in_big = ledger == 0 and rank < plan.big_segment
            segment = loaded.big_segment_id if in_big else self._segment_for(ledger, 0.7)
            portfolios = loaded.ledger_portfolios[ledger]
            portfolio = rng.choice(portfolios) if portfolios and rng.random() < 0.3 else None
            parent = last_live[ledger] if rng.random() < 0.02 else None
            deleted_at = None
            if rng.random() < DELETED_SHARE and not in_big:  # the big segment stays whole
                deleted_at = created + (self.now - created) * rng.random()
            else:
                last_live[ledger] = pk
            yield (
                pk,
                self._status(0.95),
                self._metadata(),
                created,
                deleted_at or created,
                deleted_at,
                f"Account {index + 1}",
                ACCOUNT_TYPES[index % len(ACCOUNT_TYPES)],
                ASSET_CODES[rank % len(ASSET_CODES)],
                f"@acc-{index + 1:07d}" if index % 5 < 3 else None,
                f"CUST-{rng.getrandbits(30):09d}" if index % 2 else None,
                rng.random() < 0.02,
                parent,
                loaded.ledger_ids[ledger],
                ledger_org[ledger],
                portfolio,
                segment,
            )

    def history(self) -> None:
        """One "created" entry per segment (and a "deleted" one per deleted segment), by the
        bench user, at the segment's own times; ids are UUIDv7 of those times."""
        table = SegmentHistory._meta.db_table
        snapshot = (
            "jsonb_build_object('name', s.name, 'description', s.description, 'status', "
            "jsonb_build_object('code', s.status_code, 'description', s.status_description), "
            "'metadata', s.metadata, 'ledgerId', s.ledger_id)"
        )
        for action, when, before, after, where in (
            ("created", "s.created_at", "NULL", snapshot, ""),
            ("deleted", "s.deleted_at", snapshot, "NULL", "WHERE s.deleted_at IS NOT NULL"),
        ):
            history_id = _uuid7_sql(when, salt=action)
            self.cursor.execute(
                f"INSERT INTO {table} (id, actor_name, action, before, after, created_at, "
                f"actor_id, organization_id, segment_id) "
                f"SELECT {history_id}::uuid, %s, %s, {before}, {after}, {when}, %s, "
                f"s.organization_id, s.id FROM {Segment._meta.db_table} s {where}",
                [BENCH_USERNAME, action, self.actor_id],
            )


def _uuid7_sql(time_expr: str, salt: str) -> str:
    """SQL for a UUIDv7 stamped with ``time_expr`` (milliseconds) and a tail derived from
    the segment id (unique per segment and ``salt``)."""
    hex_id = (
        f"(lpad(to_hex((extract(epoch FROM {time_expr}) * 1000)::bigint), 12, '0') || '7' "
        f"|| left(md5('{salt}' || s.id::text), 3) || '8' "
        f"|| right(md5('{salt}' || s.id::text), 15))"
    )
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return "(" + " || '-' || ".join(f"substr({hex_id}, {a}, {b})" for a, b in parts) + ")"
