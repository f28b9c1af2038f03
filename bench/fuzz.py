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
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8301

SETUP = """
from django.contrib.auth import get_user_model
from segments import services
from segments.models import Membership, Role
user = get_user_model().objects.create_user("fuzz", password="x", is_staff=True)
org = services.create_organization(user, legal_name="Fuzz Bank", legal_document="1")
Membership.objects.filter(user=user, organization=org).update(role=Role.OPERATOR)
ledger = services.create_ledger(user, org, name="Fuzz")
segment = services.create_segment(user, org, ledger, name="Black")
org_segment = services.create_segment(user, org, None, name="Private")
portfolio = services.create_portfolio(user, ledger, name="P", segment_id=segment.pk)
account = services.create_account(
    user, ledger, type="deposit", asset_code="BRL", alias="@maria", portfolio_id=portfolio.pk
)
for n in range(3):
    services.create_account(user, ledger, type="deposit", asset_code="BRL", segment_id=segment.pk)
print(org.pk, ledger.pk, segment.pk, org_segment.pk, portfolio.pk, account.pk)
"""


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def fresh_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def wait_until_serving(base: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/v1/openapi.json", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    sys.exit("the app did not start")


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
        except Exception as failure:  # every operation is reported, not only the first
            failures.append(
                f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}"
            )
        # Hypothesis may stop early when an operation has few distinct inputs: top up.
        while sent < per_strategy // 2 and not failures:
            before = sent
            try:
                answers_as_documented()
            except Exception as failure:
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
        print("   -", failure.splitlines()[0][:300])
    ok = total >= wanted and server_errors == 0 and not failures
    print("  result:                " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    url = os.environ.get("FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seg_fuzz")
    fresh_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "API_THROTTLE_RATE": "1000000/minute",
        "LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "segments_console.settings",
    }
    manage(env, "migrate", "--noinput")
    org, ledger, segment, org_segment, portfolio, account = manage(
        env, "shell", "-c", SETUP
    ).split()[-6:]
    token = manage(env, "create_api_token", "fuzz")
    ids = {
        "organizations": org,
        "organization": org,
        "ledgers": ledger,
        "ledger": ledger,
        "segments": segment,
        "organization_segments": org_segment,
        "portfolios": portfolio,
        "accounts": account,
    }
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "segments_console.wsgi",
             "-b", f"127.0.0.1:{PORT}", "-w", "2", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{PORT}"
            wait_until_serving(base)
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segments_console.test_settings")
            import django

            django.setup()  # the shared checks live beside the in-suite conformance test
            return fuzz(base, token, ids, args.requests)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            server_log.seek(0)
            logged = server_log.read().decode(errors="replace")
            if "Traceback" in logged:
                print("gunicorn logged tracebacks:\n" + logged[-3000:])


if __name__ == "__main__":
    sys.exit(main())
