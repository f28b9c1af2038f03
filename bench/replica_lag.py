"""Replication lag of a streaming standby during 100k-account bulk assignments.

Builds a private primary (``bench/pgcluster.py``, PostgreSQL's default settings unless
``--fast``), migrates it, loads ``--accounts`` accounts into one ledger with
``generate_load_data``, makes a streaming standby with ``pg_basebackup -R``, then moves
every account of the ledger into another segment with
``services.assign_accounts_matching`` (one transaction each), ``--rounds`` times. While it
runs, a sampler reads the primary's ``pg_stat_replication`` every 50 ms (``replay_lag``,
and the bytes between ``pg_current_wal_lsn()`` and the standby's ``replay_lsn``); after
each commit the script times how long until the standby has replayed the commit and
shows the moved count. Prints one line per round and the maxima; both clusters are
removed at the end.

Usage: python bench/replica_lag.py [--accounts 100000] [--rounds 3] [--fast]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.pgcluster import FAST, PrivateCluster, free_ports, wait_until  # noqa: E402

PORTS = range(55442, 55450)
DATABASE = "lag"


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


class Sampler(threading.Thread):
    """Reads the primary's view of the standby every ``interval`` seconds."""

    QUERY = """
        SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn),
               coalesce(extract(epoch FROM replay_lag), 0)
        FROM pg_stat_replication
    """

    def __init__(self, url: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, float, float]] = []  # (time, bytes behind, lag s)
        self.stopped = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.stopped.is_set():
                row = connection.execute(self.QUERY).fetchone()
                if row:
                    self.samples.append((time.monotonic(), float(row[0]), float(row[1])))
                time.sleep(self.interval)

    def between(self, start: float, end: float) -> list[tuple[float, float, float]]:
        return [s for s in self.samples if start <= s[0] <= end]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="fsync off, 16 MB shared_buffers")
    parser.add_argument(
        "--without-trigram",
        action="store_true",
        help="drop the accounts' admin-search trigram indexes first (to compare their cost)",
    )
    args = parser.parse_args()

    primary_port, standby_port = free_ports(2, PORTS)
    settings = dict(FAST) if args.fast else {"wal_keep_size": "1GB"}
    primary = PrivateCluster(primary_port, settings)
    standby = None
    try:
        primary.init()
        primary.start()
        primary.psql(f"CREATE DATABASE {DATABASE}")
        env = {
            **os.environ,
            "DATABASE_URL": primary.url(DATABASE),
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "DJANGO_SETTINGS_MODULE": "segments_console.settings",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REPLICA_DATABASE_URL", None)
        started = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(
            env, "generate_load_data", "--organizations", "1", "--ledgers", "1",
            "--segments", "3", "--portfolios", "10", "--accounts", str(args.accounts),
            "--big-segment-size", "0", "--no-progress",
        )  # fmt: skip
        print(f"loaded {args.accounts} accounts in {time.monotonic() - started:.1f} s")
        if args.without_trigram:
            primary.psql(
                "DO $$ DECLARE i text; BEGIN FOR i IN SELECT indexname FROM pg_indexes "
                "WHERE tablename = 'segments_account' AND indexname LIKE '%trgm' LOOP "
                "EXECUTE format('DROP INDEX %I', i); END LOOP; END $$",
                database=DATABASE,
            )
        standby = primary.standby(standby_port)
        standby.start()

        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from segments import services
        from segments.models import Account, Ledger

        user = get_user_model().objects.get(username="bench")
        ledger = Ledger.objects.get()
        targets = [services.create_segment(user, ledger, name=f"Lag target {n}") for n in range(2)]

        def primary_lsn() -> str:
            with psycopg.connect(primary.url(DATABASE), autocommit=True) as connection:
                return connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]

        def replayed(lsn: str) -> bool:
            with psycopg.connect(standby.url(DATABASE), autocommit=True) as connection:
                query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
                return connection.execute(query, (str(lsn),)).fetchone()[0]

        wait_until(lambda: replayed(primary_lsn()), 120, what="the standby to catch up")
        sampler = Sampler(primary.url("postgres"))
        sampler.start()
        rows = []
        for round_number in range(args.rounds):
            target = targets[round_number % 2]
            before = primary_lsn()
            began = time.monotonic()
            moved = services.assign_accounts_matching(
                user, target, Account.objects.filter(ledger=ledger)
            )
            committed = time.monotonic()
            after = primary_lsn()
            wait_until(lambda lsn=after: replayed(lsn), 300, 0.01, "the commit to be replayed")
            visible = time.monotonic()
            with psycopg.connect(standby.url(DATABASE), autocommit=True) as connection:
                seen = connection.execute(
                    "SELECT account_count FROM segments_segment WHERE id = %s", (target.pk,)
                ).fetchone()[0]
            with psycopg.connect(primary.url(DATABASE), autocommit=True) as connection:
                wal = connection.execute(
                    "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (str(after), str(before))
                ).fetchone()[0]
            window = sampler.between(began, visible)
            rows.append(
                {
                    "moved": moved["accounts"],
                    "assign_s": committed - began,
                    "wal_mb": float(wal) / 2**20,
                    "max_behind_mb": max((s[1] for s in window), default=0) / 2**20,
                    "max_replay_lag_s": max((s[2] for s in window), default=0),
                    "visible_after_commit_s": visible - committed,
                    "standby_count": seen,
                }
            )
            print(
                f"round {round_number + 1}: moved {moved['accounts']} in "
                f"{rows[-1]['assign_s']:.2f} s, WAL {rows[-1]['wal_mb']:.0f} MB; standby "
                f"behind at most {rows[-1]['max_behind_mb']:.0f} MB, replay_lag max "
                f"{rows[-1]['max_replay_lag_s']:.2f} s; replayed "
                f"{rows[-1]['visible_after_commit_s']:.2f} s after the commit "
                f"(standby count {seen})",
                flush=True,
            )
            time.sleep(1)
        sampler.stopped.set()
        sampler.join(timeout=5)
        print(
            f"\nReplica lag, {args.accounts} accounts per bulk assignment, {args.rounds} rounds"
            f" ({'fast test settings' if args.fast else 'PostgreSQL defaults'}"
            f"{', without the trigram indexes' if args.without_trigram else ''})\n"
            f"  assignment on the primary:     median "
            f"{statistics.median(r['assign_s'] for r in rows):.2f} s\n"
            f"  replay_lag (pg_stat_replication), max: "
            f"{max(r['max_replay_lag_s'] for r in rows):.2f} s\n"
            f"  standby behind the primary, max: {max(r['max_behind_mb'] for r in rows):.0f} MB"
            f"\n  commit replayed on the standby after: max "
            f"{max(r['visible_after_commit_s'] for r in rows):.2f} s, median "
            f"{statistics.median(r['visible_after_commit_s'] for r in rows):.2f} s"
        )
        ok = all(r["standby_count"] == r["moved"] for r in rows)
        return 0 if ok else 1
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()


if __name__ == "__main__":
    sys.exit(main())
