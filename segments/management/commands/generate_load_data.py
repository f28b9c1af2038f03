"""``generate_load_data``: bank-scale load data for benchmarks (issue #7), written with
PostgreSQL COPY in one transaction. The rules the data follows and the pieces that make it
are in ``segments/loaddata/``; this module reads the options, runs the steps in order, times
them and prints the report."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from segments import counters
from segments.loaddata.benefits import write_versions
from segments.loaddata.checks import check_references, restore_row_triggers, skip_row_triggers
from segments.loaddata.history import write_history
from segments.loaddata.indexes import drop_secondary_indexes, rebuild_indexes
from segments.loaddata.rows import Rows
from segments.loaddata.rules import attach_rules
from segments.loaddata.shape import Loaded, Plan
from segments.loaddata.streaming import load_tables
from segments.loaddata.tables import BENCH_USERNAME, bench_user, empty_tables, make_admin, vacuum
from segments.models import ApiToken

COUNTED = ("organizations", "ledgers", "segments", "accounts", "portfolios")


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    mark = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - mark


class Command(BaseCommand):
    help = (
        "Load bank-scale benchmark data (PostgreSQL only, COPY based): organizations, "
        "ledgers, segments with their benefits, portfolios and accounts with a realistic, "
        "skewed shape, and the user 'bench' with an API token."
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
        parser.add_argument(
            "--benefits-per-segment",
            type=int,
            default=3,
            help="benefits of each live segment on average (each has between max(1, n-2) "
            "and n+2; 0 for none)",
        )
        parser.add_argument(
            "--rules",
            type=int,
            default=0,
            help="dynamic segments in the bench ledger, each with a rule over the accounts' "
            "metadata; one refresh is enqueued for them (the worker assigns the members)",
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
            total=plan.total_rows,
            unit="row",
            unit_scale=True,
            disable=options["no_progress"],
            mininterval=0.5,
        )
        timings: dict[str, float] = {}
        with transaction.atomic():
            user = bench_user()
            empty_tables(reset=options["reset"])
            loaded = self._load(plan, progress, user.pk, timings, options["keep_indexes"])
            make_admin(user, loaded.organization_ids)
            _, token = ApiToken.issue(user, name="bench")
            refresh = None
            if options["rules"] > 0:
                scope = (loaded.organization_ids[0], loaded.ledger_ids[0])
                refresh = attach_rules(*scope, options["rules"], user)
        progress.close()
        with timed(timings, "vacuum"):
            vacuum()
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._report(plan, loaded, timings, elapsed, peak_mb, token)
        if refresh is not None:
            self.stdout.write(
                f"  {options['rules']} dynamic segments; their refresh {refresh.pk} is "
                "queued (run `manage.py worker` to assign their members)"
            )

    def _plan(self, options: dict[str, Any]) -> Plan:
        counts = {name: options[name] for name in COUNTED}
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
        if options["benefits_per_segment"] < 0:
            raise CommandError("--benefits-per-segment must be at least 0.")
        plan = Plan(
            big_segment=big,
            seed=options["seed"],
            benefits_per_segment=options["benefits_per_segment"],
            **counts,
        )
        plan.build()
        return plan

    def _load(
        self,
        plan: Plan,
        progress: tqdm,
        actor_id: int,
        timings: dict[str, float],
        keep_indexes: bool,
    ) -> Loaded:
        """The rows, their indexes, checks, counters and history, inside the caller's
        transaction."""
        raw = connection.cursor().connection  # the psycopg connection
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            triggers_skipped = skip_row_triggers(cursor)
            if not triggers_skipped:
                self.stderr.write("Note: not a superuser, foreign keys are checked row by row.")
            dropped = [] if keep_indexes else drop_secondary_indexes(cursor)
            rows = Rows(plan)
            with timed(timings, "copy"):
                load_tables(cursor, rows, progress)
            with timed(timings, "versions"):
                write_versions(cursor, actor_id, BENCH_USERNAME)
            with timed(timings, "indexes"):
                rebuild_indexes(cursor, dropped)
            with timed(timings, "checks"):
                if triggers_skipped:
                    restore_row_triggers(cursor)
                    check_references(cursor)
            with timed(timings, "counters"):
                # The member counters' triggers did not fire with replication off.
                counters.recount(cursor, "postgresql")
            write_history(cursor, actor_id, BENCH_USERNAME)
        return rows.loaded

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
            f"{plan.portfolios} portfolios, {plan.accounts} accounts, "
            f"{loaded.benefits} benefits in {elapsed:.1f} s",
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
