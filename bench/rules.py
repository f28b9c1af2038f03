"""Dynamic segments at scale (issue #14's performance targets), on a database of its own
with 1M accounts in ONE organization, none in a segment (so rules can take them all):

- compile: parse + check + build the query of representative rules, p50/p99 (≤ 10 ms p99);
- preview of a rule over the 1M accounts, all parts, p50 and RSS growth (≤ 500 ms, < 20 MB);
- on-write overhead: an account update through the service with 50 dynamic segments in
  scope against none, p50 (≤ 5 ms);
- refresh: the first assignment of the 1M accounts by 20 rules (≤ 60 s) while another
  thread updates accounts (p99 ≤ 500 ms), then a rule change that moves ≤ 1 % (≤ 5 s),
  each run by ``manage.py worker`` as its own process.

It prints figures and verdicts; it asserts nothing. Run:

    BENCH_RULES_DATABASE_URL=postgres://postgres@127.0.0.1:5432/seg_rules_bench \\
        .venv/bin/python bench/rules.py

The database is created and loaded (``generate_load_data``, then every account taken out
of its segment) when it holds no data; ``--reload`` loads it again.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/seg_rules_bench"
RULES = [
    'metadata.tier == "black" && metadata.score > 300',
    'metadata.region in ["south", "north"] && !blocked',
    'assetCode == "BRL" && type == "deposit" && metadata.channel == "app"',
    'name.startsWith("Account 1") || alias.endsWith("9")',
    "has(metadata.tier) && metadata.score >= 100 && metadata.score < 200",
    'createdAt > now - duration("720h") && status == "ACTIVE"',
    'portfolio.metadata.tier == "gold" || metadata.tier == "gold"',
    'status in ["ACTIVE", "BLOCKED"] && (metadata.score > 10 || metadata.channel == "web")',
]
TIERS = ["black", "platinum", "gold", "silver", "student"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def setup(url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="segments_console.settings",
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-rules"),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def load(reload: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    from segments.models import Account

    call_command("migrate", verbosity=0)
    if Account.all_objects.exists() and not reload:
        return
    print("loading 1M accounts in one organization …", flush=True)
    started = time.perf_counter()
    call_command(
        "generate_load_data",
        reset=True,
        organizations=1,
        ledgers=20,
        segments=40,
        accounts=1_000_000,
        portfolios=10_000,
        big_segment_size=0,
        benefits_per_segment=0,
        no_progress=True,
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE segments_account SET segment_id = NULL, segment_assigned_by = NULL")
        cursor.execute(
            "UPDATE segments_portfolio SET segment_id = NULL, segment_assigned_by = NULL"
        )
        cursor.execute("UPDATE segments_segment SET account_count = 0, portfolio_count = 0")
        cursor.execute("VACUUM ANALYZE segments_account")
    print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)


def clear_rules() -> None:
    from django.db import connection

    from segments.models import RuleRefresh, Segment, SegmentHistory, SegmentRule

    SegmentRule.objects.all().delete()
    RuleRefresh.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")
        cursor.execute(
            "UPDATE segments_account SET segment_id = NULL, segment_assigned_by = NULL "
            "WHERE segment_assigned_by = 'rule'"
        )
    bench_segments = Segment.all_objects.filter(name__startswith="Bench rule ")
    SegmentHistory.objects.filter(segment__in=bench_segments).delete()
    bench_segments.delete()


def compile_scenario() -> dict[str, float]:
    from django.utils import timezone

    from segments.models import Account
    from segments.rules import parse_rule, rule_q

    timings = []
    for _ in range(200):
        for text in RULES:
            started = time.perf_counter()
            rule = parse_rule(text, "account")
            str(Account.objects.filter(rule_q(rule, timezone.now())).query)
            timings.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(timings), "p99": percentile(timings, 0.99)}


def preview_scenario(organization) -> dict[str, float]:
    from django.test import override_settings

    from segments.services.preview import preview_rule

    timings, rss_before = [], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with override_settings(SEGMENTS_PREVIEW_TIMEOUT_MS=120_000):
        for text in RULES[:5]:
            started = time.perf_counter()
            answer = preview_rule(organization, None, expression=text, subject="account")
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.result is not None
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return {"p50": statistics.median(timings), "max": max(timings), "rss_growth_mb": grown}


def tier_rules(count: int, *, step: int) -> list[str]:
    return [
        f'metadata.tier == "{TIERS[i % len(TIERS)]}" && metadata.score > {i * step}'
        for i in range(count)
    ]


def rule_segments(organization, count: int, expressions: list[str]) -> list:
    """``count`` organization-level dynamic segments (rules written directly, no refresh)."""
    from segments.models import Segment, SegmentRule
    from segments.rules import parse_rule

    made = []
    for index in range(count):
        segment = Segment.objects.create(
            organization=organization, ledger=None, name=f"Bench rule {index + 1}"
        )
        parsed = parse_rule(expressions[index % len(expressions)], "account")
        SegmentRule.objects.create(
            segment=segment,
            organization=organization,
            expression=parsed.text,
            subject="account",
            priority=index + 1,
            fields_used=list(parsed.fields_used),
            time_dependent=parsed.time_dependent,
            actor_name="bench",
        )
        made.append(segment)
    return made


def on_write_scenario(organization, actor) -> dict[str, float]:
    from segments import services
    from segments.models import Account

    accounts = list(Account.objects.filter(organization=organization).order_by("pk")[:200])

    def updates() -> float:
        timings = []
        for index, account in enumerate(accounts):
            fresh = Account.objects.get(pk=account.pk)
            started = time.perf_counter()
            services.update_account(actor, fresh, {"name": f"Bench write {index} {time.time()}"})
            timings.append((time.perf_counter() - started) * 1000)
        return statistics.median(timings)

    clear_rules()
    none = statistics.median([updates() for _ in range(3)])
    expressions = [
        f'metadata.tier == "{TIERS[i % 5]}" && metadata.score > {i * 7}' for i in range(50)
    ]
    rule_segments(organization, 50, expressions)
    fifty = statistics.median([updates() for _ in range(3)])
    clear_rules()
    return {"p50_none": none, "p50_fifty": fifty, "overhead": fifty - none}


def start_worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "segments_console.settings"}
    log.parent.mkdir(parents=True, exist_ok=True)  # bench/results/ is not in a fresh clone
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--no-reload", "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_done(refresh) -> float:
    while True:
        refresh.refresh_from_db()
        if refresh.status in ("done", "failed"):
            assert refresh.status == "done", refresh.error
            return (refresh.finished_at - refresh.started_at).total_seconds()
        time.sleep(0.2)


def concurrent_updates(organization, actor, stop: threading.Event, out: list[float]) -> None:
    from django.db import connection

    from segments import services
    from segments.models import Account

    ids = list(
        Account.objects.filter(organization=organization).values_list("pk", flat=True)[:50_000]
    )
    rng = random.Random(3)
    try:
        while not stop.is_set():
            account = Account.objects.get(pk=rng.choice(ids))
            started = time.perf_counter()
            services.update_account(actor, account, {"metadata": {"touched": time.time()}})
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    finally:
        connection.close()


def refresh_scenario(organization, actor, url: str) -> dict[str, float]:
    from segments.models import Account, RefreshCause
    from segments.services import enqueue_refresh, put_rule

    clear_rules()
    expressions = [
        f'metadata.tier == "{TIERS[i % 5]}" && metadata.score > {i * 20}' for i in range(19)
    ]
    segments = rule_segments(organization, 20, [*expressions, 'assetCode != ""'])
    worker = start_worker(url, ROOT / "bench" / "results" / "rules-worker.log")
    try:
        latencies: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(
            target=concurrent_updates, args=(organization, actor, stop, latencies)
        )
        refresh = enqueue_refresh(
            actor, organization.pk, None, ["account"], cause=RefreshCause.BULK
        )
        writer.start()
        first = wait_done(refresh)
        stop.set()
        writer.join()
        assigned = Account.objects.filter(segment_assigned_by="rule").count()
        rule = segments[0].rule
        changed = put_rule(actor, segments[0], rule.expression.replace("> 0", "> 40"), "account", 1)
        second = wait_done(changed.refresh)
        moved = changed.refresh.added
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        clear_rules()
    return {
        "first_s": first,
        "assigned": assigned,
        "patch_p99_ms": percentile(latencies, 0.99) if latencies else float("nan"),
        "patches": len(latencies),
        "change_s": second,
        "change_moved": moved,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reload", action="store_true", help="load the data again")
    parser.add_argument(
        "--only", default="", help="comma-separated: compile,preview,on_write,refresh"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_RULES_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    setup(url)
    load(args.reload)
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from segments.models import Account, Organization

    organization = Organization.objects.get()
    actor = get_user_model().objects.get(username="bench")
    print(f"accounts in scope: {Account.objects.count():,}")
    print("server: " + server_settings())
    print(
        f"refresh: {settings.SEGMENTS_REFRESH_LANES} lanes of "
        f"{settings.SEGMENTS_REFRESH_BATCH:,}-row batches"
    )
    wanted = set(filter(None, args.only.split(","))) or set(SCENARIOS)
    figures = {
        name: SCENARIOS[name](organization, actor, url) for name in SCENARIOS if name in wanted
    }
    for line, ok in verdict_lines(figures):
        print(("OK   " if ok else "MISS ") + line)
    return 0


def server_settings() -> str:
    from django.db import connection

    names = ["shared_buffers", "max_wal_size", "wal_compression", "checkpoint_timeout"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", [names]
        )
        return ", ".join(f"{name}={value}" for name, value in sorted(cursor.fetchall()))


SCENARIOS = {
    "compile": lambda organization, actor, url: compile_scenario(),
    "preview": lambda organization, actor, url: preview_scenario(organization),
    "on_write": lambda organization, actor, url: on_write_scenario(organization, actor),
    "refresh": refresh_scenario,
}


def verdict_lines(figures: dict) -> list[tuple[str, bool]]:
    """Each measured scenario's line and whether it meets its target."""
    out = []
    if c := figures.get("compile"):
        line = (
            f"compile         p50 {c['p50']:.2f} ms  p99 {c['p99']:.2f} ms   (target p99 ≤ 10 ms)"
        )
        out.append((line, c["p99"] <= 10))
    if p := figures.get("preview"):
        line = (
            f"preview 1M      p50 {p['p50']:.0f} ms  max {p['max']:.0f} ms  "
            f"RSS +{p['rss_growth_mb']:.1f} MB   (target p50 ≤ 500 ms, < 20 MB)"
        )
        out.append((line, p["p50"] <= 500 and p["rss_growth_mb"] < 20))
    if w := figures.get("on_write"):
        line = (
            f"on-write        p50 {w['p50_none']:.2f} ms → {w['p50_fifty']:.2f} ms with 50 "
            f"rules: +{w['overhead']:.2f} ms   (target ≤ 5 ms)"
        )
        out.append((line, w["overhead"] <= 5))
    if r := figures.get("refresh"):
        first = (
            f"first refresh   {r['first_s']:.1f} s for {r['assigned']:,} accounts, concurrent "
            f"updates p99 {r['patch_p99_ms']:.0f} ms over {r['patches']}"
            "   (target ≤ 60 s, p99 ≤ 500 ms)"
        )
        out.append((first, r["first_s"] <= 60 and r["patch_p99_ms"] <= 500))
        change = (
            f"rule change     {r['change_s']:.1f} s, {r['change_moved']:,} moved   (target ≤ 5 s)"
        )
        out.append((change, r["change_s"] <= 5))
    return out


if __name__ == "__main__":
    sys.exit(main())
