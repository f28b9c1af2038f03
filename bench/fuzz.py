#!/usr/bin/env python
"""Fuzzing: Schemathesis against our own OpenAPI document, over real HTTP.

Creates a fresh database (``FUZZ_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/seg_fuzz``), loads one organization with one of
everything, serves the app with gunicorn in production mode on 127.0.0.1, then generates
requests for every operation of ``/v1/openapi.json`` — valid ones, and invalid ones where
a body or query can be broken — until at least ``--requests`` were sent (default 5,000).
Every answer is checked: no 5xx, and status code, content type, headers and body as
documented (invalid input must be refused). Prints the figures; exits non-zero on any
failure.

Usage: python bench/fuzz.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_server import live_app, logged_tracebacks

PORT = 8301


def fuzz(base: str, token: str, ids: dict[str, str], wanted: int) -> int:
    import hypothesis
    import schemathesis

    from tests.api.test_openapi_conformance import CHECKS, generation_modes, path_ids

    config = schemathesis.Config.from_dict(
        {"headers": {"Authorization": f"Bearer {token}"}, "generation": {"database": "none"}}
    )
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    strategies = [
        (operation, mode) for operation in operations for mode in generation_modes(operation)
    ]
    per_strategy = -(-wanted // len(strategies))
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()
    for operation, mode in strategies:
        strategy = operation.as_strategy(
            generation_mode=mode, path_parameters=path_ids(operation.path, ids)
        )
        sent = 0

        @hypothesis.given(case=strategy)
        @hypothesis.settings(
            max_examples=per_strategy,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def answers_as_documented(case):
            nonlocal sent
            response = case.call(base_url=base, timeout=30)
            sent += 1
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            answers_as_documented()
        except (Exception, BaseExceptionGroup) as failure:  # report all, not the first
            failures.append(
                f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}\n"
                + described(failure)
            )
        # Hypothesis may stop early when an operation has few distinct inputs: top up.
        while sent < per_strategy // 2 and not failures:
            before = sent
            try:
                answers_as_documented()
            except (Exception, BaseExceptionGroup) as failure:
                failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
            if sent == before:
                break

    total = sum(statuses.values())
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print("\nSchemathesis fuzzing of /v1/openapi.json")
    print(f"  operations:            {len(operations)} ({len(strategies)} generation strategies)")
    print(f"  requests sent:         {total}")
    print(f"  seconds:               {time.monotonic() - started:.1f}")
    print(f"  answers by status:     {dict(sorted(statuses.items()))}")
    print(f"  5xx responses:         {server_errors}")
    print(f"  schema violations:     {len(failures)}")
    for failure in failures[:20]:
        print("   -", failure[:3000].replace("\n", "\n     "))
    ok = total >= wanted and server_errors == 0 and not failures
    print("  result:                " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def described(failure: BaseException) -> str:
    """Each check that failed, with the request that made it fail (a group's members)."""
    members = failure.exceptions if isinstance(failure, BaseExceptionGroup) else [failure]
    return "\n".join(
        f"{type(member).__name__}: {member}"
        + (f"\n{member.__notes__}" if getattr(member, "__notes__", None) else "")
        for member in members
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    url = os.environ.get("FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seg_fuzz")
    with live_app(url, args.port) as app:
        ids = app.ids
        entity_ids = {
            "organizations": ids["organization"],
            "organization": ids["organization"],
            "ledgers": ids["ledger"],
            "ledger": ids["ledger"],
            "segments": ids["segment"],
            "organization_segments": ids["organization_segment"],
            "portfolios": ids["portfolio"],
            "accounts": ids["account"],
            "benefits": ids["benefit"],
            "organization_benefits": ids["organization_benefit"],
        }
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segments_console.test_settings")
        import django

        django.setup()  # the shared checks live beside the in-suite conformance test
        try:
            return fuzz(app.base, app.token, entity_ids, args.requests)
        finally:
            logged = logged_tracebacks(app.server_log)
            if logged:
                print("gunicorn logged tracebacks:\n" + logged)


if __name__ == "__main__":
    sys.exit(main())
