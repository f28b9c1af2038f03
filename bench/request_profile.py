#!/usr/bin/env python
"""Where one API request's time goes (issue #16 item 1): a per-request breakdown of every
API scenario of ``bench/run.py`` (those whose path starts with ``/v1/``), plus the cProfile
top 15 functions by own time.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/seg_bench \\
        .venv/bin/python bench/request_profile.py [--only a,b] [--requests N]

(or ``bench/run.py --profile``, which runs it after the main run, into the same folder).

Each request runs in-process through Django's test ``Client`` with the bench settings and
fixture of ``bench/run.py`` (a fresh API token, nothing else written), then, in the timed
window, ``close_old_connections()`` as gunicorn's ``request_finished`` does (the test
client skips it): each request checks a pooled connection out and back, like a worker's.

Per scenario: 30+ warm-up requests, N requests under cProfile (no instrumentation; the
top 15 functions by own time are saved), then N plain timed requests (the reference) and
N instrumented ones giving the breakdown, alternating in blocks so both meet the same load
(the machine may be shared).

How the breakdown is measured: known entry points are wrapped (monkeypatched in this
process only, and only during the instrumented blocks; the app is not changed); each
moment of a request is charged to one category, the innermost wrapped call running then
(a stack), so the categories add up to the request's wall time, measured apart around the
client call (the table prints both). Each category, less those nested inside it:

- ``handler``: the WSGI handler and the test client outside ``BaseHandler.get_response``
  (request object, signals, cookies);
- ``middleware``: inside ``get_response`` and outside the DRF view (every middleware);
- ``urls``: ``BaseHandler.resolve_request`` (URL resolving);
- ``pool``: ``connect`` (pool checkout, its check a round trip) and
  ``close_if_unusable_or_obsolete`` (the return to the pool);
- ``authentication``: ``APIView.perform_authentication`` and the bearer token
  authentication (``segments/api/authentication.py``);
- ``tenancy``: every function of ``segments.tenancy`` (wherever it was imported to);
- ``throttle``: ``APIView.check_throttles`` (the DRF throttles and their cache);
- ``filterset``: ``GenericAPIView.filter_queryset``, ``segments.filters.apply_filters``
  and django-filter's FilterSet (construction, form, validation, ``qs``);
- ``orm_query``: query building and compiling — ``QuerySet`` chaining methods, every
  ``sql.Query`` method, every SQL compiler method but the row iteration;
- ``database``: the wait in the cursor's ``execute``, timed statement by statement with
  ``connection.execute_wrapper`` (the query plus its result's transfer);
- ``fetch``: the driver's ``fetchone``/``fetchmany``/``fetchall`` (rows decoded by
  psycopg; the result is already on the client);
- ``orm_rows``: turning rows into model instances or values (the ``QuerySet``
  iterables, ``results_iter`` and converters);
- ``serialization``: body parsing (``Request._parse``, ``parse_body``), serializers
  (``is_valid``, ``data``, ``to_representation``), the ``values()`` row formats of
  ``segments.api.rows`` and ``Response.rendered_content`` (the JSON renderer);
- ``view``: the rest of the DRF view (``APIView.dispatch``): content negotiation,
  pagination, the view's own code and the domain code it calls.

Categories are means per request in ms; the instrumentation's own cost (two clock reads
per wrapped call) shows as wall minus plain. Saved: ``bench/results/<time>/profile.*``.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PREFIX = f"{ROOT}/"
WARMUP = 30
BLOCKS = 10  # plain and instrumented requests alternate in this many blocks each
CATEGORIES = (
    "handler", "middleware", "urls", "pool", "authentication", "tenancy", "throttle",
    "filterset", "orm_query", "database", "fetch", "orm_rows", "serialization", "view",
)  # fmt: skip
QUERYSET_BUILDERS = (
    "__init__", "_chain", "_clone", "all", "filter", "exclude", "_filter_or_exclude",
    "_filter_or_exclude_inplace", "complex_filter", "order_by", "values", "values_list",
    "_values", "annotate", "alias", "_annotate", "select_related", "prefetch_related",
    "only", "defer", "distinct", "extra", "using", "none", "select_for_update",
)  # fmt: skip
ROW_ITERATION = ("results_iter", "apply_converters", "composite_fields_to_tuples")


class Attribution:
    """The clock of one request: time since the last switch goes to the category on top
    of the stack."""

    def __init__(self) -> None:
        self.start(time.perf_counter())

    def start(self, now: float) -> None:
        self.spent = dict.fromkeys(CATEGORIES, 0.0)
        self.stack = ["handler"]
        self.mark = now
        self.statements = 0

    def enter(self, category: str) -> None:
        now = time.perf_counter()
        self.spent[self.stack[-1]] += now - self.mark
        self.mark = now
        self.stack.append(category)

    def leave(self) -> None:
        now = time.perf_counter()
        self.spent[self.stack.pop()] += now - self.mark
        self.mark = now

    def finish(self, now: float) -> None:
        self.spent[self.stack[-1]] += now - self.mark


CLOCK = Attribution()
PATCHED: list[tuple[Any, str, Any]] = []  # (owner, name, what it held), to undo
MISSING = object()


# --------------------------------------------------------------------------- wrapping


def timed(function: Callable, category: str) -> Callable:
    """``function`` charging its time to ``category`` (a generator function: each step)."""
    if inspect.isgeneratorfunction(function):
        return _timed_generator(function, category)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if CLOCK.stack[-1] == category:
            return function(*args, **kwargs)
        CLOCK.enter(category)
        try:
            return function(*args, **kwargs)
        finally:
            CLOCK.leave()

    return wrapper


def _timed_generator(function: Callable, category: str) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        iterator = function(*args, **kwargs)
        while True:
            CLOCK.enter(category)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                CLOCK.leave()
            yield item

    return wrapper


def patch_methods(cls: type, names: tuple[str, ...] | list[str], category: str) -> None:
    """Wrap the methods and properties ``cls`` itself defines under those names."""
    for name in names:
        attribute = cls.__dict__.get(name)
        if isinstance(attribute, property):
            fget = timed(attribute.fget, category)
            replace(cls, name, property(fget, attribute.fset, attribute.fdel))
        elif inspect.isfunction(attribute):
            replace(cls, name, timed(attribute, category))


def replace(owner: Any, name: str, value: Any) -> None:
    PATCHED.append((owner, name, vars(owner).get(name, MISSING)))
    setattr(owner, name, value)


def uninstall() -> None:
    """Put back everything ``install`` wrapped."""
    while PATCHED:
        owner, name, original = PATCHED.pop()
        if original is MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


def own_functions(cls: type) -> list[str]:
    return [
        name
        for name, value in vars(cls).items()
        if inspect.isfunction(value) and (name == "__init__" or not name.startswith("__"))
    ]


def patch_everywhere(module: Any, names: list[str], category: str) -> None:
    """Wrap module functions, also where ``from module import name`` copied them."""
    for name in names:
        original = getattr(module, name)
        wrapped = timed(original, category)
        for loaded in list(sys.modules.values()):
            if getattr(loaded, "__dict__", {}).get(name) is original:
                replace(loaded, name, wrapped)


def subclasses(cls: type) -> list[type]:
    """``cls`` and every class below it, once each."""
    found = {cls: None}
    for child in cls.__subclasses__():
        found.update(dict.fromkeys(subclasses(child)))
    return list(found)


def install() -> None:
    """Wrap every entry point of the categories (after the warm-up has imported the app)."""
    from django.core.handlers.base import BaseHandler
    from django.db.backends.base.base import BaseDatabaseWrapper
    from rest_framework.generics import GenericAPIView
    from rest_framework.views import APIView

    from segments import tenancy
    from segments.api.authentication import BearerTokenAuthentication

    patch_methods(BaseHandler, ("get_response",), "middleware")
    patch_methods(BaseHandler, ("resolve_request",), "urls")
    patch_methods(BaseDatabaseWrapper, ("connect", "close_if_unusable_or_obsolete"), "pool")
    patch_methods(APIView, ("dispatch",), "view")
    patch_methods(APIView, ("perform_authentication",), "authentication")
    patch_methods(BearerTokenAuthentication, ("authenticate",), "authentication")
    patch_methods(APIView, ("check_throttles",), "throttle")
    patch_methods(GenericAPIView, ("filter_queryset",), "filterset")
    public = [
        n
        for n, v in vars(tenancy).items()
        if inspect.isfunction(v) and v.__module__ == tenancy.__name__
    ]
    patch_everywhere(tenancy, public, "tenancy")
    install_filtersets()
    install_orm()
    install_serialization()


def install_filtersets() -> None:
    from django_filters.filterset import BaseFilterSet

    from segments import filters

    patch_methods(BaseFilterSet, ("__init__", "is_valid", "errors", "form", "qs"), "filterset")
    patch_everywhere(filters, ["apply_filters", "check_query_text"], "filterset")


def install_orm() -> None:
    from django.db.backends.utils import CursorWrapper
    from django.db.models.query import BaseIterable, QuerySet
    from django.db.models.sql import compiler
    from django.db.models.sql.query import Query

    patch_methods(QuerySet, QUERYSET_BUILDERS, "orm_query")
    for query_class in subclasses(Query):
        patch_methods(query_class, own_functions(query_class), "orm_query")
    for compiler_class in subclasses(compiler.SQLCompiler):
        names = own_functions(compiler_class)
        patch_methods(compiler_class, [n for n in names if n not in ROW_ITERATION], "orm_query")
        patch_methods(compiler_class, [n for n in names if n in ROW_ITERATION], "orm_rows")
    for iterable in subclasses(BaseIterable):
        patch_methods(iterable, ("__iter__",), "orm_rows")
    for name in CursorWrapper.WRAP_ERROR_ATTRS - {"nextset"}:
        replace(CursorWrapper, name, timed(_driver_fetch(name), "fetch"))


def _driver_fetch(name: str) -> Callable:
    def fetch(self: Any, *args: Any) -> Any:
        with self.db.wrap_database_errors:
            return getattr(self.cursor, name)(*args)

    return fetch


def install_serialization() -> None:
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.serializers import BaseSerializer, ListSerializer, Serializer

    from segments.api import parsing
    from segments.api.rows import RowFormat

    patch_methods(Request, ("_parse",), "serialization")
    patch_methods(Response, ("rendered_content",), "serialization")
    patch_methods(BaseSerializer, ("is_valid", "data"), "serialization")
    for cls in (Serializer, ListSerializer):
        patch_methods(cls, ("is_valid", "data", "to_representation"), "serialization")
    patch_methods(RowFormat, ("items",), "serialization")
    patch_everywhere(parsing, ["parse_body"], "serialization")


def timing_statements(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
    """The execute wrapper: each statement's wait is ``database``."""
    CLOCK.statements += 1
    CLOCK.enter("database")
    try:
        return execute(sql, params, many, context)
    finally:
        CLOCK.leave()


# --------------------------------------------------------------------------- requests


def request_sender(scenario: Any, token: str) -> Callable[[], int]:
    """One request of ``scenario`` through the test client, then the connection back to
    the pool as at the end of a worker's request; answers the status."""
    from django.db import close_old_connections
    from django.test import Client

    from bench.run import HOST

    client = Client(HTTP_HOST=HOST)
    extra: dict[str, Any] = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in scenario.headers.items()
        if name != "Content-Type"
    }
    extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if scenario.body:
        extra.update(data=scenario.body, content_type=scenario.headers["Content-Type"])

    def send() -> int:
        status = client.generic(scenario.method, scenario.path, **extra).status_code
        close_old_connections()
        return status

    return send


def plain_timings(send: Callable[[], int], requests: int) -> list[float]:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        send()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def cprofile_top(send: Callable[[], int], requests: int, top: int = 15) -> tuple[list, str]:
    """The ``top`` functions by own time over ``requests`` requests (ms per request), and
    pstats' own listing of them."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        send()
    profiler.disable()
    listing = io.StringIO()
    stats = pstats.Stats(profiler, stream=listing)
    stats.sort_stats("tottime").print_stats(top)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    found = [
        {
            "function": f"{path.split('site-packages/')[-1].removeprefix(PREFIX)}:{line}({name})",
            "calls_per_request": round(calls / requests, 1),
            "own_ms": round(own / requests * 1000, 3),
            "cumulative_ms": round(cumulative / requests * 1000, 3),
        }
        for (path, line, name), (_, calls, own, cumulative, _) in rows
    ]
    return found, listing.getvalue()


def measure(send: Callable[[], int], requests: int) -> dict[str, Any]:
    """``requests`` plain and ``requests`` instrumented requests, in alternating blocks so
    that both meet the same load on the machine; one untimed request after each switch."""
    plain, walls = [], []
    sums = dict.fromkeys(CATEGORIES, 0.0)
    statements, size = 0, max(1, requests // BLOCKS)
    for start in range(0, requests, size):
        count = min(size, requests - start)
        send()
        plain += plain_timings(send, count)
        install()
        try:
            send()
            statements += instrumented(send, count, sums, walls)
        finally:
            uninstall()
    means = {category: round(total / requests * 1000, 3) for category, total in sums.items()}
    return {
        "plain": {
            "p50_ms": round(statistics.median(plain), 3),
            "mean_ms": round(statistics.fmean(plain), 3),
        },
        "breakdown": {
            "categories_ms": means,
            "sum_ms": round(sum(means.values()), 3),
            "wall_mean_ms": round(statistics.fmean(walls), 3),
            "wall_p50_ms": round(statistics.median(walls), 3),
            "statements_per_request": round(statements / requests, 2),
        },
    }


def instrumented(send: Callable[[], int], count: int, sums: dict, walls: list) -> int:
    """``count`` requests with every category timed (added to ``sums``, seconds) and each
    wall time (to ``walls``, ms); answers the statements they ran."""
    from django.db import connections

    statements = 0
    wrappers = [connections[alias].execute_wrapper(timing_statements) for alias in connections]
    for wrapper in wrappers:
        wrapper.__enter__()
    try:
        for _ in range(count):
            started = time.perf_counter()
            CLOCK.start(started)
            send()
            ended = time.perf_counter()
            CLOCK.finish(ended)
            walls.append((ended - started) * 1000)
            statements += CLOCK.statements
            for category, seconds in CLOCK.spent.items():
                sums[category] += seconds
    finally:
        for wrapper in reversed(wrappers):
            wrapper.__exit__(None, None, None)
    return statements


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    from bench.run import DEFAULT_DATABASE_URL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--only", default="", help="comma-separated API scenario names")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per pass")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="warm-up requests (≥ 30)")
    parser.add_argument("--out-dir", default="", help="results folder (default: a new one)")
    return parser.parse_args()


def api_scenarios(only: str) -> tuple[Any, list[Any]]:
    from bench import run

    fixture = run.find_fixture()
    deep_page = min(run.DEEP_PAGE, max(1, fixture.big_segment_size // run.PAGE_LIMIT))
    chosen = [s for s in run.scenarios(fixture, deep_page) if s.path.startswith("/v1/")]
    if only:
        wanted = set(only.split(","))
        chosen = [s for s in chosen if s.name in wanted]
    return fixture, chosen


def profile_scenario(scenario: Any, send: Callable[[], int], args: argparse.Namespace) -> dict:
    """Warm-up, the cProfile top 15, then the plain and instrumented timings."""
    result: dict[str, Any] = {"name": scenario.name, "method": scenario.method}
    if scenario.skipped:
        return result | {"skipped": scenario.skipped}
    statuses = {send() for _ in range(max(args.warmup, WARMUP))}
    result["status"] = sorted(statuses)
    if not all(200 <= status < 300 for status in statuses):
        return result | {"skipped": f"answers {sorted(statuses)}"}
    result["top15"], result["top15_listing"] = cprofile_top(send, args.requests)
    return result | measure(send, args.requests)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bench import run

    args = parse_args()
    env = run.bench_environment(args)
    run.setup_django(env)
    out_dir = Path(args.out_dir) if args.out_dir else run.RESULTS / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    fixture, chosen = api_scenarios(args.only)
    senders = {s.name: request_sender(s, fixture.token) for s in chosen}
    results = []
    for scenario in chosen:
        results.append(profile_scenario(scenario, senders[scenario.name], args))
        state = results[-1].get("skipped") or results[-1]["breakdown"]["categories_ms"]
        print(f"  profiled {scenario.name}: {state}", flush=True)
    from bench.request_profile_report import save

    save(out_dir, results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
