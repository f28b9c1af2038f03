#!/usr/bin/env python
"""Admin search at scale (issue #11 item 10) — ``python bench/admin_search.py``.

Needs the load data (``python manage.py generate_load_data ...``, migrations through 0007)
in the database named by ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/seg_bench``). Then:

1. makes the staff superuser ``bench-staff`` (no password: a session only) and picks the
   search terms from the data: an account's alias, its name (two words: "Account" is in
   every name), a holder's entity id, a 4-character fragment that matches thousands, a
   term that matches nothing, a segment name and a portfolio holder's id;
2. requests each admin changelist once in-process: status, the SQL it runs, EXPLAIN
   (ANALYZE, BUFFERS) of each statement (saved), the indexes the search reads and any
   sequential scan of the accounts table;
3. serves the app with gunicorn (``bench.settings``: production settings, DEBUG off) on
   127.0.0.1 (``--port``) and drives every changelist over HTTP, signed in as the staff
   user, with ``wrk`` (else a small Python client), bounded in requests and time: the
   whole request (session, filters, the bounded count, the page, the date drill-down and
   the rendering), not only the search query;
4. prints the table (p50/p99 ms, req/s, queries, indexes) and the plan of the accounts
   search, and saves both under ``bench/results/admin-search-<time>/``.

Target: p50 < 100 ms for every search over the 1M accounts. Only 127.0.0.1 is targeted;
the server started here is stopped before exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    HOST,
    RESULTS,
    Gunicorn,
    bench_environment,
    drive,
    ensure_wrk,
    explain,
    probe,
    setup_django,
)

STAFF_USERNAME = "bench-staff"
TARGET_MS = 100.0
SEQ_SCAN = re.compile(r"Seq Scan on segments_account\b")
INDEX_READ = re.compile(
    r"Bitmap Index Scan on (\w+)|Index (?:Only )?Scan(?: Backward)? using (\w+)"
)


@dataclass
class AdminScenario:
    name: str
    path: str
    search: bool = True
    term: str = ""
    status: int = 0
    queries: int | None = None
    indexes: list[str] = field(default_factory=list)
    seq_scan_of_accounts: bool = False
    sql_ms: float = 0.0
    http: dict = field(default_factory=dict)


def staff_session() -> str:
    """A session of the staff superuser ``bench-staff`` (created once, no password)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, created = get_user_model().objects.get_or_create(
        username=STAFF_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    client = Client(HTTP_HOST=HOST)
    client.force_login(user)
    return client.cookies["sessionid"].value


def scenarios() -> list[AdminScenario]:
    """The changelists to time, with terms taken from the data (the newest rows that have
    each field, read from the end of the id index)."""
    from segments.models import Account, Portfolio, Segment

    account = Account.objects.exclude(alias=None).exclude(name=None).order_by("-pk").first()
    holder = Account.objects.exclude(entity_id=None).order_by("-pk").first()
    segment = Segment.objects.order_by("-pk").first()
    portfolio = Portfolio.objects.exclude(entity_id=None).order_by("-pk").first()
    if account is None or holder is None or segment is None or portfolio is None:
        sys.exit("No load data: run `python manage.py generate_load_data ...` first (README).")
    fragment = re.sub(r"\D", "", account.alias)[-6:-2] or "0500"
    accounts, segments, portfolios = (
        "/admin/segments/account/",
        "/admin/segments/segment/",
        "/admin/segments/portfolio/",
    )
    terms = [
        ("accounts_alias", accounts, account.alias),
        ("accounts_name", accounts, account.name),
        ("accounts_entity_id", accounts, holder.entity_id),
        ("accounts_fragment", accounts, fragment),
        ("accounts_no_match", accounts, "no-such-account"),
        ("segments_name", segments, segment.name),
        ("portfolios_entity_id", portfolios, portfolio.entity_id),
    ]
    items = [
        AdminScenario(name, f"{path}?{urlencode({'q': term})}", term=term)
        for name, path, term in terms
    ]
    items.append(AdminScenario("accounts_unfiltered", accounts, search=False))
    return items


def capture(scenario: AdminScenario, session: str, plans: Path) -> str:
    """The request in-process: status, query count, the plans; returns the plan text of
    the search's page query (empty without a search)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    client.cookies["sessionid"] = session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(scenario.path)
    scenario.status = response.status_code
    scenario.queries = len(captured.captured_queries)
    scenario.sql_ms = round(sum(float(q["time"]) for q in captured.captured_queries) * 1000, 1)
    selects = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    explain(f"admin_{scenario.name}", selects, plans)
    text = (plans / f"admin_{scenario.name}.txt").read_text()
    scenario.seq_scan_of_accounts = reads_all_accounts(text)
    found = {a or b for a, b in INDEX_READ.findall(text)}
    scenario.indexes = sorted(found)
    searches = [chunk for chunk in text.split("-- statement ") if " LIKE " in chunk]
    return searches[-1] if searches else ""


def reads_all_accounts(plans: str) -> bool:
    """Whether a plan scans the accounts table sequentially past the paginator's bound (a
    bounded count reads at most ``exact_limit`` rows that way, and stops)."""
    from segments.admin.counting import EstimatedCountPaginator

    lines = plans.splitlines()
    for index, line in enumerate(lines):
        if not SEQ_SCAN.search(line):
            continue
        rows = int(re.search(r"actual time=\S+ rows=(\d+)", line).group(1))
        removed = re.search(r"Rows Removed by Filter: (\d+)", "\n".join(lines[index : index + 3]))
        removed = int(removed.group(1)) if removed else 0
        bound = EstimatedCountPaginator.exact_limit
        if removed > bound or (rows < bound and rows + removed > bound):  # not stopped by it
            return True
    return False


def table(items: list[AdminScenario]) -> str:
    head = ("scenario", "term", "p50 ms", "p99 ms", "req/s", "queries", "SQL ms", "notes")
    rows = [head]
    for s in items:
        http = s.http
        notes = []
        if s.search:
            trigram = [name for name in s.indexes if name.endswith("_trgm")]
            notes.append("trigram: " + (", ".join(trigram) or "NONE"))
            if http.get("p50_ms") is not None:
                notes.append("met" if http["p50_ms"] < TARGET_MS else "MISSED")
        if s.seq_scan_of_accounts:
            notes.append("SEQ SCAN of accounts")
        if http.get("errors"):
            notes.append(f"{http['errors']} errors")
        if http.get("error"):
            notes.append(http["error"])
        rows.append((
            s.name, s.term or "-", f"{http.get('p50_ms', 0):.1f}", f"{http.get('p99_ms', 0):.1f}",
            f"{http.get('rps', 0):.0f}", str(s.queries), f"{s.sql_ms:.1f}", "; ".join(notes),
        ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    out = []
    for index, row in enumerate(rows):
        out.append(
            "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
        )
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--duration", type=int, default=15, help="seconds per load run (max)")
    parser.add_argument("--max-requests", type=int, default=1000, help="requests per load run")
    parser.add_argument(
        "--connections", type=int, default=1, help="concurrent clients (1: one staff user)"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    return parser.parse_args()  # fmt: skip


def main() -> int:
    args = parse_args()
    env = bench_environment(args)
    setup_django(env)
    from django.db import connection

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS / f"admin-search-{stamp}"
    plans = out_dir / "explain"
    plans.mkdir(parents=True, exist_ok=True)
    session = staff_session()
    items = scenarios()
    if args.only:
        items = [s for s in items if s.name in set(args.only.split(","))]
    print(f"Admin search bench; results in {out_dir}", flush=True)
    search_plan = ""
    for scenario in items:
        plan = capture(scenario, session, plans)
        if scenario.name == "accounts_alias":
            search_plan = plan
        indexes = ", ".join(scenario.indexes)
        print(f"  captured {scenario.name}: {scenario.status}, {scenario.queries} queries, "
              f"{scenario.sql_ms} ms SQL, indexes {indexes}", flush=True)  # fmt: skip
    connection.close()

    wrk = ensure_wrk()
    print(f"Load tool: {'wrk' if wrk else 'python client'}; {args.workers} {args.worker_class} "
          f"workers; {args.connections} connections, ≤ {args.max_requests} requests or "
          f"{args.duration} s per run", flush=True)  # fmt: skip
    server = Gunicorn("app", "segments_console.wsgi:application", args.port, env, args, out_dir)
    try:
        headers = {"Cookie": f"sessionid={session}"}
        for s in items:
            url = f"http://{HOST}:{args.port}{s.path}"
            for _ in range(args.workers * 2):  # warm every worker
                status, _count = probe(url, "GET", headers)
            s.http = drive(wrk, url, "GET", headers, args)
            if status != 200:
                s.http["error"] = f"gunicorn answered {status}"
            print(f"  {s.name}: {s.http.get('p50_ms')} ms p50, {s.http.get('p99_ms')} ms p99 "
                  f"(status {status})", flush=True)  # fmt: skip
        rss = server.worker_rss_mb()
    finally:
        server.stop()

    searched = [s for s in items if s.search and s.http.get("p50_ms") is not None]
    met = all(s.http["p50_ms"] < TARGET_MS for s in searched)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    report = (
        f"Admin search bench {stamp}: {args.workers} {args.worker_class} gunicorn workers, "
        f"{args.connections} connection(s); load average at the end {load}; worker RSS "
        f"{', '.join(f'{v:.0f}' for v in rss)} MB\n\n"
        + table(items)
        + f"\n\nTarget p50 < {TARGET_MS:.0f} ms for every search: {'met' if met else 'MISSED'}.\n"
        + (f"\nPlan of the accounts alias search (page query):\n-- statement {search_plan}"
           if search_plan else "")
    )  # fmt: skip
    print("\n" + report)
    (out_dir / "results.md").write_text(report)
    (out_dir / "results.json").write_text(
        json.dumps({"stamp": stamp, "scenarios": [asdict(s) for s in items], "rss": rss}, indent=2)
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
