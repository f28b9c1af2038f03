#!/usr/bin/env python
"""Benchmark of issue #7 — one entry point: ``python bench/run.py`` (``make bench``).

Needs the load data (``python manage.py generate_load_data ...``) in the database named by
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/seg_bench``). Then:

1. finds the bench fixture (user ``bench``, the ledger holding "Retail mass market") and
   issues a fresh API token and console session for ``bench``;
2. requests every HTTP scenario once in-process, capturing the SQL it runs (its query
   count) and EXPLAIN (ANALYZE, BUFFERS) of each SELECT, flagging any sequential scan of
   the accounts table; a route that does not exist (404/405) or fails is skipped, said so;
3. serves the app with gunicorn (DEBUG off, 127.0.0.1:8101) and the bare baseline
   (``bench/baseline.py``: the same SQL through psycopg + orjson, 127.0.0.1:8102) with the
   same worker settings, and drives both from a separate process (``wrk``, installed with
   apt-get when missing and allowed; else a small Python client), bounded in requests and
   time; each API scenario is then driven once more at 12 connections (``req/s 12c``,
   ``bench/saturation.py``: a warning for a req/s more than 10 % below the previous run's;
   ``--no-saturation`` skips it);
4. times the in-process scenarios: member count of the big segment, and bulk-assigning
   100,000 accounts through ``services.assign_accounts_matching`` (then moving them back);
5. prints one table and saves it, a JSON file and the plans under ``bench/results/``;
6. with ``--profile``, then runs ``bench/request_profile.py`` (where one request of each API
   scenario spends its time) into the same results folder;
7. with ``--events``, or when ``--only`` names ``outbox_overhead``, ``relay_throughput`` or
   ``relay_latency``, runs ``bench/events.py`` (the outbox and the relay, issue #15) into
   ``events/`` of the same folder. ``--only`` naming only those runs nothing else and needs
   no load data: ``bench/events.py`` makes its own (any database, created if missing);
8. with ``--rules``, or ``--only rules`` (that alone), runs ``bench/rules.py`` (dynamic
   segments at scale, issue #14: compile, preview, on-write, refresh) on its own database
   of 1M accounts in one organization (``BENCH_RULES_DATABASE_URL``, made when missing).

Only 127.0.0.1 is ever targeted. Every server started here is stopped before exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import asdict, dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import saturation  # noqa: E402

RESULTS = ROOT / "bench" / "results"
APP_PORT, BASELINE_PORT = 8101, 8102
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/seg_bench"
BENCH_SECRET = "bench-only-secret-key-not-for-production"
BIG_SEGMENT_NAME = "Retail mass market"
BULK_TARGET_NAME = "Bench bulk target"
BULK_SIZE = 100_000
RESOLVE_SIZE = 1000
JSON_BODY = {"Content-Type": "application/json"}
DEEP_PAGE = 1000
PAGE_LIMIT = 100
SEQ_SCAN_OF_ACCOUNTS = re.compile(r"Seq Scan on segments_account\b")
EVENT_SCENARIOS = ("outbox_overhead", "relay_throughput", "relay_latency")  # bench/events.py


# --------------------------------------------------------------------------- data shapes


@dataclass
class Scenario:
    """One HTTP request shape, driven against the app and against the baseline."""

    name: str
    method: str
    path: str
    auth: str  # "token" or "session"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""  # sent with the request (JSON), to the app and to the baseline
    target: str = ""
    # The limits the verdicts check, when the scenario has them.
    max_ratio: float | None = None
    max_p50_ms: float | None = None
    max_queries: int | None = None
    skipped: str = ""
    status: int = 0
    statements: list[str] = field(default_factory=list)
    queries: int | None = None
    queries_at_limit_10: int | None = None
    seq_scan_of_accounts: bool = False
    app: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    saturation: dict[str, float | None] = field(default_factory=dict)  # req/s by connections


@dataclass
class Fixture:
    organization_id: str
    ledger_id: str
    big_segment_id: str
    big_segment_size: int
    token: str
    session: str
    deep_cursor: str
    benefits_account_id: str | None
    resolve_account_ids: list[str]


# --------------------------------------------------------------------------- environment


def bench_environment(args: argparse.Namespace) -> dict[str, str]:
    """What the app (in-process and under gunicorn) runs with: production-ish settings."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY=os.environ.get("BENCH_SECRET_KEY", BENCH_SECRET),
        DATABASE_URL=args.database_url,
        ALLOWED_HOSTS=HOST,
        API_THROTTLE_RATE="1000000/second",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
        # Plain HTTP on loopback, as behind a TLS-terminating proxy.
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SECURE_HSTS_SECONDS="0",
    )
    env.pop("REPLICA_DATABASE_URL", None)
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    # WhiteNoise warns that STATIC_ROOT does not exist: the bench requests no static file.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def find_fixture() -> Fixture:
    """The generated bench data, a fresh API token and a console session for ``bench``."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from segments import selectors
    from segments.models import Account, ApiToken, Segment

    big = Segment.objects.filter(name=BIG_SEGMENT_NAME, ledger__isnull=False).first()
    user = get_user_model().objects.filter(username="bench").first()
    if big is None or user is None:
        sys.exit(
            "No load data: run `python manage.py generate_load_data ...` against "
            "BENCH_DATABASE_URL first (see README, Performance)."
        )
    ApiToken.objects.filter(user=user, name="bench-run").delete()
    issued, token = ApiToken.issue(user, name="bench-run")
    # As a token in use: its last-use time is written at most once a minute, not on the
    # first request of every capture.
    ApiToken.objects.filter(pk=issued.pk).update(last_used_at=timezone.now())
    client = Client(HTTP_HOST=HOST)
    client.force_login(user)
    members = Account.objects.filter(segment=big)
    size = members.count()
    position = min(DEEP_PAGE - 1, max(0, size // PAGE_LIMIT - 1)) * PAGE_LIMIT - 1
    before_deep = members.order_by("created_at", "id")[max(position, 0)]
    return Fixture(
        organization_id=str(big.organization_id),
        ledger_id=str(big.ledger_id),
        big_segment_id=str(big.pk),
        big_segment_size=size,
        token=token,
        session=client.cookies["sessionid"].value,
        deep_cursor=selectors._encode_cursor(before_deep, "next"),
        benefits_account_id=benefits_account(big.ledger_id),
        resolve_account_ids=resolve_accounts(big),
    )


def benefits_account(ledger_id: Any) -> str | None:
    """A live account of the ledger directly in a segment with at least three live
    benefits, among them an ACTIVE grouped pair (one outranks the other) and an expired
    one; None when the data has none."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from segments.models import Account, Segment, Status

    live = Q(benefits__deleted_at=None)
    grouped = live & Q(benefits__status_code=Status.ACTIVE, benefits__exclusivity_group__gt="")
    candidates = (
        Segment.objects.filter(ledger_id=ledger_id)
        .annotate(
            benefits_count=Count("benefits", filter=live),
            grouped=Count("benefits", filter=grouped),
            expired=Count("benefits", filter=live & Q(benefits__valid_until__lte=timezone.now())),
        )
        .filter(benefits_count__gte=3, grouped__gte=2, expired__gte=1)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    for segment_id in candidates:
        found = Account.objects.filter(segment_id=segment_id).values_list("pk", flat=True)
        if account := found.first():
            return str(account)
    return None


def resolve_accounts(big) -> list[str]:
    """``RESOLVE_SIZE`` live accounts of the bench ledger, in a seeded shuffle: half in
    one of its other segments, a tenth in the big segment, a quarter in no segment but in a
    portfolio that is, the rest (and whatever the others lack) in neither."""
    import random

    from segments.models import Account

    accounts = Account.objects.filter(ledger_id=big.ledger_id).order_by("created_at", "id")
    via_portfolio = accounts.filter(segment=None, portfolio__segment__isnull=False)
    shares = (
        (accounts.filter(segment__isnull=False).exclude(segment=big), RESOLVE_SIZE // 2),
        (accounts.filter(segment=big), RESOLVE_SIZE // 10),
        (via_portfolio, RESOLVE_SIZE // 4),
    )
    chosen: list[str] = []
    for queryset, share in shares:
        chosen += [str(pk) for pk in queryset.values_list("pk", flat=True)[:share]]
    rest = accounts.exclude(pk__in=chosen).values_list("pk", flat=True)
    chosen += [str(pk) for pk in rest[: RESOLVE_SIZE - len(chosen)]]
    random.Random(13).shuffle(chosen)
    return chosen


def scenarios(fx: Fixture, deep_page: int) -> list[Scenario]:
    api = f"/v1/organizations/{fx.organization_id}/ledgers/{fx.ledger_id}"
    console = f"/organizations/{fx.organization_id}/ledgers/{fx.ledger_id}"
    accounts = f"{api}/accounts?segment_id={fx.big_segment_id}&limit={PAGE_LIMIT}"
    return [
        Scenario("api_segments_list", "GET", f"{api}/segments?limit=100", "token",
                 target="p50 ≤ 1.5× baseline, ≤ 4 queries", max_ratio=1.5, max_queries=4),
        Scenario("api_segments_search", "GET", f"{api}/segments?limit=100&name=black", "token",
                 target="p50 ≤ 1.5× baseline, ≤ 4 queries", max_ratio=1.5, max_queries=4),
        Scenario("api_segments_metadata", "GET", f"{api}/segments?limit=100&metadata.tier=black",
                 "token", target="p50 ≤ 1.5× baseline, ≤ 4 queries", max_ratio=1.5,
                 max_queries=4),
        Scenario("api_segment_get", "GET", f"{api}/segments/{fx.big_segment_id}", "token"),
        Scenario("api_accounts_page1", "GET", accounts, "token",
                 target="p50 ≤ 1.5× baseline, ≤ 4 queries"),
        Scenario("api_accounts_deep_offset", "GET", f"{accounts}&page={deep_page}", "token",
                 target="(offset: for comparison)"),
        Scenario("api_accounts_deep_cursor", "GET", f"{accounts}&cursor={fx.deep_cursor}",
                 "token", target="p50 ≤ 1.2× page 1"),
        Scenario("api_segment_members", "GET",
                 f"{api}/segments/{fx.big_segment_id}/members?kind=account&limit=100", "token"),
        Scenario("api_segments_count", "HEAD", f"{api}/segments/metrics/count", "token"),
        Scenario("api_accounts_count", "HEAD", f"{api}/accounts/metrics/count", "token"),
        Scenario("console_segments_full", "GET", f"{console}/segments/", "session",
                 target="p50 ≤ 3× baseline"),
        Scenario("console_segments_partial", "GET", f"{console}/segments/", "session",
                 headers={"HX-Request": "true"}, target="p50 ≤ 2× baseline"),
        Scenario("console_segment_members", "GET",
                 f"{console}/segments/{fx.big_segment_id}/members/", "session"),
        *benefit_scenarios(fx, api),
    ]  # fmt: skip


def benefit_scenarios(fx: Fixture, api: str) -> list[Scenario]:
    """What an account gets (issue #13): one account whose segment has a grouped pair and
    an expired benefit, and ``RESOLVE_SIZE`` accounts of mixed segments in one POST."""
    account = Scenario(
        "api_account_benefits", "GET", f"{api}/accounts/{fx.benefits_account_id}/benefits",
        "token", target="p50 ≤ 1.5× baseline, ≤ 3 queries", max_ratio=1.5, max_queries=3,
    )  # fmt: skip
    if fx.benefits_account_id is None:
        account.skipped = "no account in a segment with a grouped pair and an expired benefit"
    resolve = Scenario(
        "api_benefits_resolve", "POST", f"{api}/accounts/benefits/resolve", "token",
        headers=dict(JSON_BODY), body=json.dumps({"accountIds": fx.resolve_account_ids}),
        target="p50 ≤ 200 ms, ≤ 4 queries", max_p50_ms=200, max_queries=4,
    )  # fmt: skip
    return [account, resolve]


def request_headers(scenario: Scenario, fx: Fixture) -> dict[str, str]:
    headers = dict(scenario.headers)
    if scenario.auth == "token":
        headers["Authorization"] = f"Bearer {fx.token}"
    else:
        headers["Cookie"] = f"sessionid={fx.session}"
    return headers


# --------------------------------------------------------------------------- capture + plans


def capture(scenario: Scenario, fx: Fixture, plans: Path) -> None:
    """Run the request in-process: status, every SQL statement, and the plans of its
    SELECTs. A missing route or a failure marks the scenario skipped."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if scenario.skipped:
        return
    client = Client(HTTP_HOST=HOST, raise_request_exception=False)
    if scenario.auth == "session":
        client.cookies["sessionid"] = fx.session
    extra: dict[str, Any] = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in scenario.headers.items()
        if k != "Content-Type"
    }
    if scenario.auth == "token":
        extra["HTTP_AUTHORIZATION"] = f"Bearer {fx.token}"
    if scenario.body:
        extra.update(data=scenario.body, content_type=scenario.headers["Content-Type"])
    with CaptureQueriesContext(connection) as captured:
        response = client.generic(scenario.method, scenario.path, **extra)
    scenario.status = response.status_code
    if response.status_code in (404, 405):
        scenario.skipped = f"route not there yet ({response.status_code})"
        return
    if response.status_code >= 400 or response.status_code in (301, 302):
        scenario.skipped = f"answers {response.status_code}"
        return
    scenario.queries = len(captured.captured_queries)
    scenario.statements = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
    ]
    scenario.seq_scan_of_accounts = explain(scenario.name, scenario.statements, plans)
    if "limit=100" in scenario.path:
        small_page = scenario.path.replace("limit=100", "limit=10")
        with CaptureQueriesContext(connection) as captured:
            client.generic(scenario.method, small_page, **extra)
        scenario.queries_at_limit_10 = len(captured.captured_queries)


def explain(name: str, statements: list[str], plans: Path) -> bool:
    """Save EXPLAIN (ANALYZE, BUFFERS) of each statement; whether any scans the accounts
    table sequentially."""
    from django.db import connection

    texts, seq_scan = [], False
    with connection.cursor() as cursor:
        for index, sql in enumerate(statements, 1):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            seq_scan = seq_scan or bool(SEQ_SCAN_OF_ACCOUNTS.search(plan))
            texts.append(f"-- statement {index}\n{sql}\n\n{plan}\n")
    (plans / f"{name}.txt").write_text("\n".join(texts))
    return seq_scan


# --------------------------------------------------------------------------- servers


class Gunicorn:
    """A gunicorn server started (and stopped) by this run, on 127.0.0.1."""

    def __init__(
        self, name: str, target: str, port: int, env: dict, args: argparse.Namespace, logs: Path
    ) -> None:
        self.name, self.port = name, port
        self.log = open(logs / f"{name}.log", "w")  # noqa: SIM115
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            target,
            "--bind", f"{HOST}:{port}",
            "--workers", str(args.workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            "--timeout", "60",
            "--log-level", "warning",
            "--chdir", str(ROOT),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see its log in bench/results/")
            with socket.socket() as probe:
                if probe.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start on port {self.port}")

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process (children of the master)."""
        out = subprocess.run(
            ["ps", "-o", "rss=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [int(value) / 1024 for value in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def probe(url: str, method: str, headers: dict[str, str], body: str = "") -> tuple[int, str | None]:
    """One request: status and X-Query-Count."""
    data = body.encode() if body else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status, response.headers.get("X-Query-Count")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Query-Count")


# --------------------------------------------------------------------------- load tools


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.environ.get("BENCH_NO_INSTALL"):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing wrk with apt-get …", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    return shutil.which("wrk")


WRK_SCRIPT = """
wrk.method = "{method}"
{headers}
{body}
local limit = {limit}
local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(
    wrk: str, url: str, method: str, headers: dict[str, str], body: str, args
) -> dict[str, Any]:
    header_lines = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
    )
    body_line = f"wrk.body = {lua_string(body)}" if body else ""
    script = WRK_SCRIPT.format(
        method=method, headers=header_lines, body=body_line, limit=args.max_requests
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "30s",
             "-s", handle.name, url],
            capture_output=True, text=True, timeout=args.duration + 60, check=False,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    line = next((row for row in out.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        return {"error": out[-500:]}
    data = json.loads(line.removeprefix("RESULT "))
    if not data["requests"]:
        return {"error": f"no request completed within {args.duration} s"}
    return summarize(
        data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
        data["p99_us"] / 1000, data["non_2xx"] + data["socket_errors"],
    )  # fmt: skip


def lua_string(text: str) -> str:
    """``text`` as a Lua long string (no escapes inside), whatever brackets it holds."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def drive(
    wrk: str | None,
    url: str,
    method: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    body: str = "",
) -> dict[str, Any]:
    """One bounded load run against ``url`` with wrk, or the Python client without it."""
    if wrk:
        return run_wrk(wrk, url, method, headers, body, args)
    return run_python_client(url, method, headers, body, args)


def summarize(requests: int, seconds: float, p50: float, p99: float, errors: int) -> dict:
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "errors": errors,
    }


def _python_client(job: tuple[str, str, dict, str, float, int]) -> tuple[list[float], int]:
    import http.client
    from urllib.parse import urlsplit

    url, method, headers, body, deadline, limit = job
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies, errors = [], 0
    while time.monotonic() < deadline and len(latencies) < limit:
        start = time.perf_counter()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request(method, target, body=body.encode() or None, headers=headers)
            response = conn.getresponse()
            response.read()
            errors += response.status >= 400
        except OSError:
            errors += 1
        finally:
            conn.close()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies, errors


def run_python_client(
    url: str, method: str, headers: dict[str, str], body: str, args
) -> dict[str, Any]:
    """Fallback load tool: ``connections`` processes, bounded in requests and time."""
    started = time.monotonic()
    deadline = started + args.duration
    share = max(1, args.max_requests // args.connections)
    with Pool(args.connections) as pool:
        parts = pool.map(
            _python_client, [(url, method, headers, body, deadline, share)] * args.connections
        )
    seconds = time.monotonic() - started
    latencies = sorted(value for chunk, _ in parts for value in chunk)
    errors = sum(count for _, count in parts)
    if not latencies:
        return {"error": "no request completed"}
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return summarize(len(latencies), seconds, statistics.median(latencies), p99, errors)


# --------------------------------------------------------------------------- in-process


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def member_count_scenario(fx: Fixture, plans: Path, repeat: int) -> dict[str, Any]:
    """The member count of the big segment as the app reads it (``selectors.member_counts``:
    the segment's trigger-kept counter, one query here since it holds no portfolio), the
    same SQL raw through psycopg, and for comparison the COUNT it replaced; checks that the
    counter equals the COUNT."""
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from segments import selectors
    from segments.models import Account, Segment

    segment = Segment.objects.get(pk=fx.big_segment_id)
    with CaptureQueriesContext(connection) as captured:
        counts = selectors.member_counts(segment)
    statements = [q["sql"] for q in captured.captured_queries]
    members = Account.objects.filter(segment_id=fx.big_segment_id)
    with CaptureQueriesContext(connection) as captured:
        count = members.count()
    count_sql = captured.captured_queries[0]["sql"]
    seq_scan = explain("member_count", [*statements, count_sql], plans)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        selectors.member_counts(segment)
        timings.append((time.perf_counter() - started) * 1000)
    raw, counting = [], []
    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(repeat):
            started = time.perf_counter()
            for sql in statements:
                conn.execute(sql, prepare=False).fetchall()
            raw.append((time.perf_counter() - started) * 1000)
        for _ in range(max(3, repeat // 5)):
            started = time.perf_counter()
            conn.execute(count_sql, prepare=False).fetchone()
            counting.append((time.perf_counter() - started) * 1000)
    return {
        "members": count,
        "counter": counts["accounts"],
        "exact": counts["accounts"] == count,
        "queries": len(statements),
        "orm": percentiles(timings),
        "raw": percentiles(raw),
        "count_query": percentiles(counting),
        "seq_scan_of_accounts": seq_scan,
        "target": "p50 < 20 ms",
    }


def bulk_assign_scenario(fx: Fixture, size: int) -> dict[str, Any]:
    """Move ``size`` members of the big segment into an empty segment of the same ledger
    through ``services.assign_accounts_matching`` (timed, one transaction), check that the
    target's history got exactly one entry, then move them back (timed too)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from segments import services
    from segments.models import Account, Ledger, Segment, SegmentHistory

    user = get_user_model().objects.get(username="bench")
    ledger = Ledger.objects.get(pk=fx.ledger_id)
    big = Segment.objects.get(pk=fx.big_segment_id)
    target = Segment.objects.filter(ledger=ledger, name=BULK_TARGET_NAME).first()
    if target is None:
        target = services.create_segment(user, ledger, name=BULK_TARGET_NAME)
    if Account.objects.filter(segment=target).exists():
        services.assign_accounts_matching(user, big, Account.objects.filter(segment=target))
    members = Account.objects.filter(segment=big).order_by("created_at", "id")
    size = min(size, members.count())
    cut = members.values_list("created_at", flat=True)[size - 1]
    history_before = SegmentHistory.objects.filter(segment=target).count()
    chosen = Account.objects.filter(segment=big, created_at__lte=cut)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        moved = services.assign_accounts_matching(user, target, chosen)
        forward = time.perf_counter() - started
    history_entries = SegmentHistory.objects.filter(segment=target).count() - history_before
    started = time.perf_counter()
    back = services.assign_accounts_matching(user, big, Account.objects.filter(segment=target))
    backward = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Account._meta.db_table}")
    return {
        "accounts": moved["accounts"],
        "moved_back": back["accounts"],
        "seconds": round(forward, 3),
        "seconds_back": round(backward, 3),
        "statements": len(captured.captured_queries),
        "history_entries_on_target": history_entries,
        "target": "< 2 s, one transaction, one history entry",
    }


# --------------------------------------------------------------------------- report


def verdicts(items: list[Scenario], extra: dict[str, Any], rss: list[float]) -> list[str]:
    by_name = {s.name: s for s in items if not s.skipped and s.app.get("p50_ms")}
    lines = []

    def ratio(name: str) -> float | None:
        s = by_name.get(name)
        if not s or not s.baseline.get("p50_ms"):
            return None
        return s.app["p50_ms"] / s.baseline["p50_ms"]

    for s in by_name.values():
        lines += declared_verdicts(s, ratio(s.name))
    page1, cursor = by_name.get("api_accounts_page1"), by_name.get("api_accounts_deep_cursor")
    if page1 and cursor:
        value = cursor.app["p50_ms"] / page1.app["p50_ms"]
        lines.append(f"deep cursor page: {value:.2f}× page 1 (target ≤ 1.2×) "
                     f"{'OK' if value <= 1.2 else 'MISS'}")  # fmt: skip
    for name, limit in (("console_segments_partial", 2.0), ("console_segments_full", 3.0)):
        value = ratio(name)
        if value is not None:
            lines.append(f"{name}: {value:.2f}× baseline (target ≤ {limit:g}×) "
                         f"{'OK' if value <= limit else 'MISS'}")  # fmt: skip
    count = extra.get("member_count")
    if count:
        value = count["orm"]["p50_ms"]
        ok = value < 20 and count["exact"]
        lines.append(f"member count of {count['members']} accounts: {value:.1f} ms p50, "
                     f"counter {'exact' if count['exact'] else 'WRONG: ' + str(count['counter'])} "
                     f"(target < 20 ms) {'OK' if ok else 'MISS'}")  # fmt: skip
    bulk = extra.get("bulk_assign")
    if bulk:
        ok = bulk["seconds"] < 2 and bulk["history_entries_on_target"] == 1
        lines.append(f"bulk assign {bulk['accounts']}: {bulk['seconds']:.2f} s, "
                     f"{bulk['history_entries_on_target']} history entry "
                     f"(target < 2 s, 1 entry) {'OK' if ok else 'MISS'}")  # fmt: skip
    if rss:
        lines.append(f"gunicorn worker RSS after the run: max {max(rss):.0f} MB "
                     f"(target < 150 MB) {'OK' if max(rss) < 150 else 'MISS'}")  # fmt: skip
    seq = [s.name for s in items if s.seq_scan_of_accounts]
    if count and count["seq_scan_of_accounts"]:
        seq.append("member_count")
    lines.append("sequential scans of the accounts table: " + (", ".join(seq) or "none"))
    return lines


def declared_verdicts(s: Scenario, ratio: float | None) -> list[str]:
    """OK or MISS against the limits the scenario declares (ratio to the baseline, p50,
    queries)."""
    lines = []
    if s.max_ratio is not None and ratio is not None:
        lines.append(f"{s.name}: {ratio:.2f}× baseline (target ≤ {s.max_ratio:g}×) "
                     f"{'OK' if ratio <= s.max_ratio else 'MISS'}")  # fmt: skip
    if s.max_p50_ms is not None:
        p50 = s.app["p50_ms"]
        lines.append(f"{s.name}: {p50:.1f} ms p50 (target ≤ {s.max_p50_ms:g} ms) "
                     f"{'OK' if p50 <= s.max_p50_ms else 'MISS'}")  # fmt: skip
    if s.max_queries is not None:
        ok = s.queries is not None and s.queries <= s.max_queries
        lines.append(f"{s.name}: {s.queries} queries (target ≤ {s.max_queries}) "
                     f"{'OK' if ok else 'MISS'}")  # fmt: skip
    return lines


def table(items: list[Scenario], extra: dict[str, Any]) -> str:
    head = (
        "scenario", "p50 ms", "p99 ms", "req/s", "req/s 12c", "base p50", "ratio", "queries",
        "notes",
    )  # fmt: skip
    rows = [head]
    for s in items:
        if s.skipped:
            rows.append((s.name, "-", "-", "-", "-", "-", "-", "-", f"SKIPPED: {s.skipped}"))
            continue
        app, base = s.app, s.baseline
        if "p50_ms" not in app:
            rows.append(
                (s.name, "-", "-", "-", "-", "-", "-", str(s.queries), app.get("error", ""))
            )
            continue
        ratio = f"{app['p50_ms'] / base['p50_ms']:.2f}×" if base.get("p50_ms") else "-"
        notes = [s.target] if s.target else []
        if s.queries_at_limit_10 is not None:
            notes.append(f"{s.queries_at_limit_10} queries at limit=10")
        if app.get("errors"):
            notes.append(f"{app['errors']} errors")
        if app.get("error"):
            notes.append(app["error"])
        if s.seq_scan_of_accounts:
            notes.append("SEQ SCAN of accounts")
        at_12 = s.saturation.get("12")
        rows.append((
            s.name, f"{app['p50_ms']:.1f}", f"{app['p99_ms']:.1f}", f"{app['rps']:.0f}",
            "-" if at_12 is None else f"{at_12:.0f}", f"{base.get('p50_ms', 0):.1f}", ratio,
            str(s.queries), "; ".join(notes),
        ))  # fmt: skip
    count = extra.get("member_count")
    if count:
        rows.append((
            "member_count_500k (in-process)", f"{count['orm']['p50_ms']:.1f}",
            f"{count['orm']['p99_ms']:.1f}", "-", "-", f"{count['raw']['p50_ms']:.1f}",
            f"{count['orm']['p50_ms'] / count['raw']['p50_ms']:.2f}×", str(count["queries"]),
            f"{count['members']} members, counter {'exact' if count['exact'] else 'WRONG'} "
            f"(COUNT(*): {count['count_query']['p50_ms']:.1f} ms); target p50 < 20 ms",
        ))  # fmt: skip
    bulk = extra.get("bulk_assign")
    if bulk:
        rows.append((
            "bulk_assign_100k (in-process)", f"{bulk['seconds'] * 1000:.0f}", "-", "-", "-", "-",
            "-", str(bulk["statements"]),
            f"{bulk['accounts']} accounts, {bulk['history_entries_on_target']} history entry, "
            f"back in {bulk['seconds_back']:.2f} s; target < 2 s",
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


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per load run (max)")
    parser.add_argument("--max-requests", type=int, default=3000, help="requests per load run")
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--no-saturation",
        dest="saturation",
        action="store_false",
        help="skip the API scenarios' second load run at 12 connections",
    )
    parser.add_argument(
        "--saturation-duration", type=int, default=10, help="seconds of the 12-connection run"
    )
    parser.add_argument("--skip-bulk", action="store_true", help="skip the bulk assignment")
    parser.add_argument("--count-repeat", type=int, default=50)
    parser.add_argument("--label", default="", help="a word saved with the results")
    parser.add_argument("--profile", action="store_true", help="then run bench/request_profile.py")
    parser.add_argument(
        "--events",
        action="store_true",
        help="then run bench/events.py (outbox and relay, its own small data)",
    )
    parser.add_argument(
        "--rules",
        action="store_true",
        help="then run bench/rules.py (dynamic segments over 1M accounts, its own database)",
    )
    return parser.parse_args()  # fmt: skip


def main() -> int:
    args = parse_args()
    wanted = set(args.only.split(",")) if args.only else set()
    if wanted and wanted <= set(EVENT_SCENARIOS):  # no load data needed: bench/events.py
        return run_events(args, None, args.only)
    if wanted == {"rules"}:  # bench/rules.py loads its own database
        return run_rules()
    env = bench_environment(args)
    setup_django(env)
    from django.db import connection

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS / stamp
    plans = out_dir / "explain"
    plans.mkdir(parents=True, exist_ok=True)
    fx = find_fixture()
    deep_page = min(DEEP_PAGE, max(1, fx.big_segment_size // PAGE_LIMIT))
    items = scenarios(fx, deep_page)
    if args.only:
        wanted = set(args.only.split(","))
        items = [s for s in items if s.name in wanted]
    print(f"Bench ledger {fx.ledger_id}, big segment {fx.big_segment_id} "
          f"({fx.big_segment_size} members); results in {out_dir}", flush=True)  # fmt: skip
    for scenario in items:
        capture(scenario, fx, plans)
        state = (
            f"SKIPPED ({scenario.skipped})"
            if scenario.skipped
            else (
                f"{scenario.queries} queries"
                + (", SEQ SCAN of accounts" if scenario.seq_scan_of_accounts else "")
            )
        )
        print(f"  captured {scenario.name}: {state}", flush=True)
    live = [s for s in items if not s.skipped]
    baseline_file = out_dir / "baseline_statements.json"
    baseline_file.write_text(json.dumps({s.name: s.statements for s in live}, indent=1))
    connection.close()

    extra: dict[str, Any] = {}
    rss: list[float] = []
    if live:
        wrk = ensure_wrk()
        tool = "wrk" if wrk else "python client"
        print(f"Load tool: {tool}; {args.workers} {args.worker_class} workers each; "
              f"{args.connections} connections, ≤ {args.max_requests} requests or "
              f"{args.duration} s per run", flush=True)  # fmt: skip
        base_env = dict(env, BENCH_BASELINE_FILE=str(baseline_file))
        servers: list[Gunicorn] = []
        try:
            app = Gunicorn("app", "segments_console.wsgi:application", APP_PORT, env, args,
                           out_dir)  # fmt: skip
            servers.append(app)
            base = Gunicorn("baseline", "bench.baseline:app", BASELINE_PORT, base_env, args,
                            out_dir)  # fmt: skip
            servers.append(base)
            for s in live:
                headers = request_headers(s, fx)
                base_headers = dict(s.headers) if s.body else {}
                app_url = f"http://{HOST}:{APP_PORT}{s.path}"
                base_url = f"http://{HOST}:{BASELINE_PORT}/{s.name}"
                counts = []
                for _ in range(args.workers * 2):  # warm every worker
                    status, header_count = probe(app_url, s.method, headers, s.body)
                    probe(base_url, s.method, base_headers, s.body)
                    if header_count is not None:
                        counts.append(int(header_count))
                if counts:
                    # A request's own count: a worker's first request also opens its
                    # connection, and the token's last use is written once a minute.
                    s.queries = min(counts)
                s.app = drive(wrk, app_url, s.method, headers, args, s.body)
                s.baseline = drive(wrk, base_url, s.method, base_headers, args, s.body)
                if args.saturation and saturation.is_saturated(s.path):
                    more = drive(
                        wrk,
                        app_url,
                        s.method,
                        headers,
                        saturation.with_more_connections(args),
                        s.body,
                    )
                    s.saturation = saturation.figures(s.app, more)
                if not 200 <= status < 300:
                    s.app["error"] = f"gunicorn answered {status}"
                print(
                    f"  {s.name}: app {s.app.get('p50_ms')} ms p50, baseline "
                    f"{s.baseline.get('p50_ms')} ms p50 (status {status})",
                    flush=True,
                )
            rss = app.worker_rss_mb()
        finally:
            for server in reversed(servers):
                server.stop()
    if not args.only or "member_count" in args.only:
        extra["member_count"] = member_count_scenario(fx, plans, args.count_repeat)
        print(f"  member count: {extra['member_count']['orm']}", flush=True)
    if not args.skip_bulk and (not args.only or "bulk_assign" in args.only):
        extra["bulk_assign"] = bulk_assign_scenario(fx, BULK_SIZE)
        print(f"  bulk assign: {extra['bulk_assign']}", flush=True)

    text = table(items, extra)
    checks = verdicts(items, extra, rss)
    checks += saturation.regressions(
        {s.name: s.saturation for s in items if s.saturation},
        saturation.previous_figures(RESULTS, stamp),
    )
    header = (
        f"Segments Console bench {stamp} {args.label}".rstrip() + "\n"
        f"data: big segment {fx.big_segment_size} members; {args.workers} "
        f"{args.worker_class} gunicorn workers; {args.connections} connections\n"
    )
    report = header + "\n" + text + "\n\n" + "\n".join(f"- {line}" for line in checks) + "\n"
    print("\n" + report)
    result = {
        "stamp": stamp,
        "label": args.label,
        "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
        "fixture": {k: v for k, v in asdict(fx).items() if k not in ("token", "session")},
        "scenarios": [
            {k: v for k, v in asdict(s).items() if k != "statements"} for s in items
        ],
        "in_process": extra,
        "worker_rss_mb": rss,
        "checks": checks,
    }  # fmt: skip
    (out_dir / "results.md").write_text(report)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2, default=str))
    if not args.only:  # latest.* always holds a complete run
        shutil.copyfile(out_dir / "results.md", RESULTS / "latest.md")
        shutil.copyfile(out_dir / "results.json", RESULTS / "latest.json")
    if args.profile:
        run_profile(args, out_dir)
    if args.events or wanted & set(EVENT_SCENARIOS):
        run_events(args, out_dir, ",".join(sorted(wanted & set(EVENT_SCENARIOS))))
    if args.rules:
        run_rules()
    return 0


def run_rules() -> int:
    """``bench/rules.py`` in its own process, on its own database."""
    command = [sys.executable, str(ROOT / "bench" / "rules.py")]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def run_events(args: argparse.Namespace, out_dir: Path | None, only: str) -> int:
    """``bench/events.py`` (the outbox write overhead, the relay's throughput and latency;
    ``only`` of them when given), in its own process, into ``out_dir`` when given."""
    command = [sys.executable, "-m", "bench.events", "--database-url", args.database_url]
    if out_dir is not None:
        command += ["--out-dir", str(out_dir / "events")]
    if only:
        command += ["--only", only]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def run_profile(args: argparse.Namespace, out_dir: Path) -> None:
    """``bench/request_profile.py`` into ``out_dir``, in its own process (it wraps the app's entry
    points with timers, which this process must not)."""
    command = [sys.executable, "-m", "bench.request_profile", "--database-url", args.database_url,
               "--out-dir", str(out_dir)]  # fmt: skip
    if args.only:
        command += ["--only", args.only]
    subprocess.run(command, cwd=ROOT, check=False)


if __name__ == "__main__":
    sys.exit(main())
