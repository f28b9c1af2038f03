#!/usr/bin/env python
"""Outbox and relay benchmark (issue #15) — ``python bench/events.py`` (or ``bench/run.py
--only outbox_overhead,relay_throughput,relay_latency``, or ``bench/run.py --events`` after
a main run).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/seg_relay_bench \\
        .venv/bin/python bench/events.py [--only a,b] [--repeat 3]

Makes its own small data: creates the database when it does not exist, migrates it, and
writes an organization, a ledger and ``--subjects`` segments (``Bench events …``) once.
Needs RabbitMQ (``EVENTS_BROKER_URL``, default ``amqp://guest:guest@127.0.0.1:5672/%2F``):
each run declares its own durable topic exchange ``bench.events.<time>`` with one durable
queue bound to ``#`` (so the broker writes each persistent message to disk before its
confirm, as for a real consumer's queue) and deletes both at the end. The relay runs as
``manage.py relay_events`` (its own process, the bench settings: what production runs),
the consumer in another process (a pika ``BlockingConnection``, auto-ack), both on this
machine, so every figure includes their CPU too. It prints figures and OK/MISS against
the targets; it asserts nothing.

Scenarios:

- ``outbox_overhead``: ``services.update_segment`` called in-process, ``--calls`` times
  with its emit and as many with the emit replaced by a no-op (the service module's
  ``emit_entity``; the change and its history entry stay), alternating call by call
  (with, without, without, with …) so both meet the same load: p50 of each, their
  difference (target ≤ 1 ms; its commit, with the ``NOTIFY``, included) and p50 of the
  emit call itself (the subject's latest id with the ``NOTIFY`` queued, the insert).
- ``relay_throughput``: ``--events`` pending ``segment.updated`` rows (real payloads,
  round robin over the segments, bulk-inserted), then a relay started on them: events per
  second from the consumer's first message to its last (target ≥ 2,000/s), with every row
  marked published and every id received (duplicates counted).
- ``relay_latency``: with a relay running and warmed up, rows committed at ``--rate``
  events per second for ``--duration`` seconds (a transaction every 20 ms: one insert of
  the tick's rows and the ``NOTIFY`` every emit queues, as ``members_changed`` writes);
  commit → broker latency per event, from the wall clock right after its commit returned
  to the consumer receiving it: p50 / p95 (target ≤ 1 s) / p99 / max.

Results: ``bench/results/events-<time>/`` (``results.md``, ``results.json``, relay logs).
``--repeat N`` runs each scenario N times and reports the median with every run's figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import EVENT_SCENARIOS, RESULTS, bench_environment, setup_django  # noqa: E402

SCENARIOS = EVENT_SCENARIOS
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/seg_relay_bench"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
NAME = "Bench events"
TICK = 0.02  # seconds between the latency scenario's commits


# --------------------------------------------------------------------------- setup


def ensure_database(url: str) -> None:
    """Create the database of ``url`` on its server when it does not exist."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}", flush=True)


@dataclass
class World:
    organization_id: str
    segments: list  # Segment rows
    payloads: list  # (time, data) of each segment's segment.updated


def world(subjects: int) -> World:
    """The bench's organization, ledger and ``subjects`` segments, made once."""
    from segments import services
    from segments.event_shapes import entity_payload
    from segments.models import Ledger, Organization, Segment

    organization = Organization.objects.filter(legal_name=NAME, deleted_at=None).first()
    if organization is None:
        organization = services.create_organization(None, legal_name=NAME, legal_document="1")
    ledger = Ledger.objects.filter(organization=organization, name=NAME, deleted_at=None).first()
    if ledger is None:
        ledger = services.create_ledger(None, organization, name=NAME)
    live = Segment.objects.filter(ledger=ledger, deleted_at=None)
    for number in range(live.count(), subjects):
        services.create_segment(None, ledger, name=f"{NAME} {number:05d}")
    segments = list(live.order_by("created_at", "id")[:subjects])
    payloads = [entity_payload(segment, "updated") for segment in segments]
    return World(str(organization.pk), segments, payloads)


def clear_pending(w: World) -> None:
    """Drop the bench organization's pending and dead rows (left by an earlier run or by
    the overhead scenario); say how many other pending rows the relay will also send."""
    from segments.models import Event, EventStatus

    mine = Event.objects.filter(organization_id=w.organization_id)
    mine.exclude(status=EventStatus.PUBLISHED).delete()
    others = Event.objects.filter(status=EventStatus.PENDING).count()
    if others:
        print(f"  note: {others} pending events of other organizations go out too", flush=True)


_SEQUENCE = itertools.count()


def bench_id() -> uuid.UUID:
    """A UUIDv7 of this millisecond, increasing within this process (a counter where the
    random bits go). ``uuid6.uuid7`` would push its clock a millisecond ahead per id made
    within one: 20,000 rows would stamp ids 20 s into the future, above every id the
    services then make for those segments for that long."""
    millis, number = time.time_ns() // 1_000_000, next(_SEQUENCE)
    return uuid.UUID(
        int=(millis << 80) | (0x7 << 76) | ((number >> 62) & 0xFFF) << 64 | (0b10 << 62)
        | (number & (2**62 - 1))
    )  # fmt: skip


def rows(w: World, count: int, start: int = 0) -> list:
    """``count`` new ``segment.updated`` rows, round robin over the segments but the first
    (``outbox_overhead``'s)."""
    from django.utils import timezone

    from segments.models import Event

    now, made, size = timezone.now(), [], len(w.segments) - 1
    for number in range(start, start + count):
        segment = w.segments[1 + number % size]
        at, data = w.payloads[1 + number % size]
        made.append(
            Event(
                id=bench_id(),
                organization_id=w.organization_id,
                key="segment.updated",
                subject=str(segment.pk),
                time=at,
                data=data,
                next_attempt_at=now,
            )
        )
    return made


def commit_rows(made: list) -> float:
    """Insert ``made`` and queue the relay's wakeup in one transaction; the wall clock
    right after the commit returned."""
    from django.db import connection, transaction

    from segments.models import Event
    from segments.services.events import EVENTS_CHANNEL

    with transaction.atomic():
        Event.objects.bulk_create(made, batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [EVENTS_CHANNEL])
    return time.time()


# --------------------------------------------------------------------------- broker side


@dataclass
class Broker:
    url: str
    exchange: str

    def declare(self) -> None:
        self._call(lambda ch: (
            ch.exchange_declare(self.exchange, exchange_type="topic", durable=True),
            ch.queue_declare(self.exchange, durable=True),
            ch.queue_bind(self.exchange, self.exchange, routing_key="#"),
        ))  # fmt: skip

    def purge(self) -> None:
        self._call(lambda ch: ch.queue_purge(self.exchange))

    def delete(self) -> None:
        self._call(lambda ch: (ch.queue_delete(self.exchange), ch.exchange_delete(self.exchange)))

    def _call(self, action) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            action(connection.channel())
        finally:
            connection.close()


def consume(url: str, queue: str, tenant: str, expected, stop, out: str) -> None:
    """(A process of its own.) Record ``(ce-id, time received)`` of the tenant's messages
    until ``expected`` distinct ids came (once it is set) or ``stop`` is set."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    records, seen = [], set()
    for method, properties, _body in channel.consume(queue, auto_ack=True, inactivity_timeout=0.2):
        if method is not None:
            headers = properties.headers or {}
            if headers.get("ce-tenantid") == tenant:
                records.append((headers["ce-id"], time.time()))
                seen.add(headers["ce-id"])
        if stop.value or (expected.value and len(seen) >= expected.value):
            break
    channel.cancel()
    connection.close()
    Path(out).write_text(json.dumps(records))


class Consumer:
    """The consumer process of one scenario run."""

    def __init__(self, broker: Broker, tenant: str, out: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.expected, self.stop = context.Value("l", 0), context.Value("b", 0)
        self.out = out
        self.process = context.Process(
            target=consume,
            args=(broker.url, broker.exchange, tenant, self.expected, self.stop, str(out)),
        )
        self.process.start()

    def finish(self, expected: int, timeout: float) -> dict[str, float]:
        """Wait for ``expected`` messages (at most ``timeout`` s); first receipt time of
        each id, and how many came twice."""
        self.expected.value = expected
        self.process.join(timeout)
        if self.process.is_alive():
            self.stop.value = 1
            self.process.join(30)
        records = json.loads(self.out.read_text()) if self.out.exists() else []
        first: dict[str, float] = {}
        for event_id, at in records:
            first.setdefault(event_id, at)
        self.duplicates = len(records) - len(first)
        return first


@dataclass
class RelayProcess:
    process: subprocess.Popen

    @classmethod
    def start(cls, env: dict, broker: Broker, batch: int, log: Path) -> RelayProcess:
        environment = dict(env, EVENTS_BROKER_URL=broker.url, EVENTS_EXCHANGE=broker.exchange)
        command = [sys.executable, "manage.py", "relay_events", "--batch", str(batch)]
        handle = log.open("w")
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        return cls(process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# --------------------------------------------------------------------------- scenarios


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def outbox_overhead(w: World, calls: int) -> dict[str, Any]:
    """``update_segment`` with and without its emit (see the module docstring)."""
    import segments.services.segments as module
    from segments import services

    real, emit_seconds = module.emit_entity, []

    def timed(row, event):
        started = time.perf_counter()
        try:
            return real(row, event)
        finally:
            emit_seconds.append(time.perf_counter() - started)

    segment, samples, counter = w.segments[0], {"with": [], "without": []}, [0]

    def call(mode: str) -> None:
        counter[0] += 1
        module.emit_entity = timed if mode == "with" else (lambda row, event: None)
        started = time.perf_counter()
        services.update_segment(None, segment, {"description": f"call {counter[0]}"})
        samples[mode].append(time.perf_counter() - started)

    try:
        for _ in range(30):
            call("with")
        samples["with"].clear()
        emit_seconds.clear()
        for number in range(calls * 2):  # with, without, without, with, ...
            call("with" if number % 4 in (0, 3) else "without")
    finally:
        module.emit_entity = real
    with_p50, without_p50 = (statistics.median(samples[m]) for m in ("with", "without"))
    return {
        "calls_each": len(samples["with"]),
        "with_p50_ms": ms(with_p50), "without_p50_ms": ms(without_p50),
        "with_p95_ms": ms(percentile(samples["with"], 0.95)),
        "without_p95_ms": ms(percentile(samples["without"], 0.95)),
        "overhead_p50_ms": ms(with_p50 - without_p50),
        "emit_call_p50_ms": ms(statistics.median(emit_seconds)),
    }  # fmt: skip


def relay_throughput(w: World, env: dict, broker: Broker, args, out: Path) -> dict[str, Any]:
    """A relay started on ``--events`` pending rows (see the module docstring)."""
    from segments.models import Event, EventStatus

    clear_pending(w)
    broker.purge()
    made = rows(w, args.events)
    commit_rows(made)
    ids = {str(row.pk) for row in made}
    consumer = Consumer(broker, w.organization_id, out.with_suffix(".received.json"))
    relay = RelayProcess.start(env, broker, args.batch, out.with_suffix(".relay.log"))
    started = time.monotonic()
    try:
        first = consumer.finish(len(ids), timeout=max(120.0, args.events / 100))
    finally:
        relay.stop()
    wall = time.monotonic() - started
    times = sorted(at for event_id, at in first.items() if event_id in ids)
    published = Event.objects.filter(pk__in=[row.pk for row in made],
                                     status=EventStatus.PUBLISHED).count()  # fmt: skip
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "events": len(ids), "received": len(times), "duplicates": consumer.duplicates,
        "marked_published": published, "seconds_first_to_last": round(span, 3),
        "events_per_second": round((len(times) - 1) / span) if span else 0,
        "seconds_with_relay_start": round(wall, 3), "batch": args.batch,
    }  # fmt: skip


def wait_published(pk, timeout: float) -> bool:
    from segments.models import Event, EventStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Event.objects.filter(pk=pk, status=EventStatus.PUBLISHED).exists():
            return True
        time.sleep(0.1)
    return False


def produce(w: World, rate: float, duration: float) -> tuple[dict[str, float], float]:
    """Commit ``rate`` rows a second for ``duration`` s, a transaction every ``TICK``;
    each id's commit time, and the production's wall time."""
    per_tick, committed, made_so_far = rate * TICK, {}, 0
    started = time.monotonic()
    ticks = int(duration / TICK)
    for tick in range(ticks):
        due = int(per_tick * (tick + 1)) - made_so_far
        made = rows(w, due, start=made_so_far)
        made_so_far += due
        at = commit_rows(made)
        committed.update((str(row.pk), at) for row in made)
        pause = started + TICK * (tick + 1) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return committed, time.monotonic() - started


def relay_latency(w: World, env: dict, broker: Broker, args, out: Path) -> dict[str, Any]:
    """Commit → consumer latency at ``--rate`` (see the module docstring)."""
    clear_pending(w)
    broker.purge()
    consumer = Consumer(broker, w.organization_id, out.with_suffix(".received.json"))
    relay = RelayProcess.start(env, broker, args.batch, out.with_suffix(".relay.log"))
    try:
        probe = rows(w, 1)
        commit_rows(probe)
        if not wait_published(probe[0].pk, 60):
            return {"error": "the relay did not publish a first event within 60 s"}
        committed, wall = produce(w, args.rate, args.duration)
        first = consumer.finish(len(committed) + 1, timeout=max(60.0, args.duration * 3))
    finally:
        relay.stop()
    latencies = [first[event_id] - at for event_id, at in committed.items() if event_id in first]
    if not latencies:
        return {"error": "no message received"}
    return {
        "events": len(committed), "received": len(latencies),
        "duplicates": consumer.duplicates,
        "offered_per_second": round(len(committed) / wall), "batch": args.batch,
        "p50_ms": ms(statistics.median(latencies)), "p95_ms": ms(percentile(latencies, 0.95)),
        "p99_ms": ms(percentile(latencies, 0.99)), "max_ms": ms(max(latencies)),
    }  # fmt: skip


# --------------------------------------------------------------------------- report


def median_of(runs: list[dict], key: str) -> float:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else float("nan")


def verdicts(results: dict[str, list[dict]]) -> list[str]:
    lines = []
    if runs := results.get("outbox_overhead"):
        value = median_of(runs, "overhead_p50_ms")
        lines.append(f"outbox write overhead on update_segment: {value:.3f} ms p50 "
                     f"(target ≤ 1 ms) {'OK' if value <= 1 else 'MISS'}")  # fmt: skip
    if runs := results.get("relay_throughput"):
        value = median_of(runs, "events_per_second")
        complete = all(r.get("received") == r.get("events") == r.get("marked_published")
                       for r in runs)  # fmt: skip
        lines.append(f"relay throughput with confirms: {value:.0f} events/s "
                     f"(target ≥ 2,000/s) {'OK' if value >= 2000 else 'MISS'}; "
                     f"every event received and marked: {'yes' if complete else 'NO'}")  # fmt: skip
    if runs := results.get("relay_latency"):
        value = median_of(runs, "p95_ms")
        lines.append(f"commit → consumer latency p95: {value:.0f} ms (target ≤ 1,000 ms) "
                     f"{'OK' if value <= 1000 else 'MISS'}")  # fmt: skip
    return lines


def table(results: dict[str, list[dict]]) -> str:
    lines = ["| scenario | median | runs |", "|---|---|---|"]
    shapes = {
        "outbox_overhead": ("overhead_p50_ms", "ms overhead p50 (with {with_p50_ms} / "
                            "without {without_p50_ms}, emit call {emit_call_p50_ms})"),
        "relay_throughput": ("events_per_second", "events/s ({received}/{events} received, "
                             "{marked_published} marked, {duplicates} dup, batch {batch})"),
        "relay_latency": ("p95_ms", "ms p95 (p50 {p50_ms}, p99 {p99_ms}, max {max_ms}; "
                          "{offered_per_second}/s offered, {received}/{events} received)"),
    }  # fmt: skip
    for name, runs in results.items():
        key, shape = shapes[name]
        each = "; ".join(
            run["error"] if "error" in run else f"{run[key]} " + shape.format(**run) for run in runs
        )
        lines.append(f"| {name} | {median_of(runs, key)} | {each} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    database = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    parser.add_argument("--database-url", default=database)
    parser.add_argument(
        "--broker-url", default=os.environ.get("EVENTS_BROKER_URL", DEFAULT_BROKER_URL)
    )
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario")
    parser.add_argument("--calls", type=int, default=500, help="service calls each way")
    parser.add_argument("--events", type=int, default=20_000, help="rows the relay drains")
    parser.add_argument("--rate", type=float, default=2000, help="events/s offered (latency)")
    parser.add_argument("--duration", type=float, default=10, help="seconds offered (latency)")
    parser.add_argument("--subjects", type=int, default=1000, help="segments the rows are about")
    parser.add_argument("--batch", type=int, default=500, help="the relay's --batch")
    parser.add_argument("--out-dir", default="", help="results folder (default: a new one)")
    parser.add_argument("--label", default="", help="a word saved with the results")
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = [name for name in SCENARIOS if not args.only or name in args.only.split(",")]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.out_dir) if args.out_dir else RESULTS / f"events-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url)
    env = bench_environment(argparse.Namespace(database_url=args.database_url))
    setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    w = world(args.subjects)
    broker = Broker(args.broker_url, f"bench.events.{stamp}")
    broker.declare()
    print(f"Events bench {stamp}: {len(w.segments)} subjects, exchange {broker.exchange}; "
          f"results in {out_dir}", flush=True)  # fmt: skip
    results: dict[str, list[dict]] = {}
    try:
        for name in wanted:
            for run in range(1, args.repeat + 1):
                stem = out_dir / f"{name}-{run}"
                if name == "outbox_overhead":
                    figures = outbox_overhead(w, args.calls)
                elif name == "relay_throughput":
                    figures = relay_throughput(w, env, broker, args, stem)
                else:
                    figures = relay_latency(w, env, broker, args, stem)
                results.setdefault(name, []).append(figures)
                print(f"  {name} run {run}: {figures}", flush=True)
    finally:
        broker.delete()
    load = os.getloadavg()
    header = f"Events bench {stamp} {args.label}".rstrip()
    header += f"\nload average at the end: {load[0]:.1f} {load[1]:.1f}; runs each: {args.repeat}"
    checks = "\n".join(f"- {line}" for line in verdicts(results))
    report = f"{header}\n\n{table(results)}\n\n{checks}"
    print("\n" + report)
    (out_dir / "results.md").write_text(report + "\n")
    saved = {"stamp": stamp, "label": args.label, "results": results, "load": load,
             "settings": {k: v for k, v in vars(args).items() if k != "database_url"}}  # fmt: skip
    (out_dir / "results.json").write_text(json.dumps(saved, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
