#!/usr/bin/env python
"""Fuzzing: Schemathesis against **Midaz's own** OpenAPI document, over real HTTP.

A Midaz client is written against Midaz's published document
(``shared/reference/midaz-onboarding-openapi.yaml``, or ``MIDAZ_OPENAPI``), not ours;
this run checks that every answer of our server to requests generated from it is one
that document allows. The document is changed in memory only where ``api.md`` says we
may differ: ``additionalProperties: false`` is relaxed (we may add fields), creates
answer 201 where it documents 200 (as Midaz really does), and the ``Authorization``
header it declares on every operation is the run's own token (a credential, not an input
to fuzz). Everything else — response schemas, content types, the problem document of
every error — is Midaz's.

Midaz's document describes every request body as a binary string (its generator did not
describe them), so generated bodies are junk, which must be refused the way the document
says errors look. Each create and update is therefore also sent the bodies a Midaz client
sends there (``CLIENT_BODIES``, Midaz's Postman workflow's ``null`` keys included), and
must succeed.

The server is the one ``bench/fuzz.py`` meets (``bench/live_server.py``: a fresh
database, ``FUZZ_MIDAZ_DATABASE_URL``, seeded with one organization holding one of
everything, gunicorn in production mode). The seeded organization first gets a complete
address over the API: Midaz requires one, and an organization without it cannot match
Midaz's ``Address`` schema. Path parameters are the seeded rows' ids, the seeded alias
and external code, and generated ones for those two. Prints the figures; exits non-zero
on any failure.

Usage: python bench/fuzz_midaz.py [--requests 2000] [--port 8302]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_server import live_app, logged_tracebacks  # noqa: E402

PORT = 8302
REFERENCE = Path(
    os.environ.get("MIDAZ_OPENAPI", ROOT.parent / "shared/reference/midaz-onboarding-openapi.yaml")
)
ADDRESS = {
    "line1": "Av. Paulista 1000",
    "line2": "Andar 10",
    "zipCode": "01310-100",
    "city": "São Paulo",
    "state": "SP",
    "country": "BR",
}
# What a Midaz client sends to each collection: (creates, updates).
CLIENT_BODIES: dict[str, tuple[list[dict], list[dict]]] = {
    "organizations": (
        [{"legalName": "Lerian Bank", "legalDocument": "12345678000199", "address": ADDRESS}],
        [{"doingBusinessAs": "Lerian", "metadata": {"tier": "gold"}}],
    ),
    "ledgers": (
        [{"name": "Treasury"}, {"name": "Cards", "metadata": None, "settings": None}],
        [{"name": "Treasury 2", "metadata": {"region": "SP"}}],
    ),
    "accounts": (
        [
            {"name": "Maria", "assetCode": "BRL", "type": "deposit", "alias": "@maria.silva"},
            {
                "name": "João",
                "assetCode": "BRL",
                "type": "deposit",
                "alias": "@joao",
                "holderId": None,
                "skip": None,
            },
        ],
        [{"name": "Maria Silva", "metadata": {"vip": True}}],
    ),
    "portfolios": (
        [{"name": "Retail", "entityId": "client-42"}],
        [{"name": "Retail 2"}],
    ),
    "segments": (
        [{"name": "Gold"}],
        [{"name": "Gold 2", "status": {"code": "ACTIVE"}}],
    ),
}


def _relaxed(node: Any) -> Any:
    """The document without ``additionalProperties: false`` anywhere."""
    if isinstance(node, dict):
        return {
            key: _relaxed(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_relaxed(item) for item in node]
    return node


def midaz_document(path: Path = REFERENCE) -> dict:
    """Midaz's document as our server may answer it: no ``additionalProperties: false``,
    a create's documented success is 201, and no ``Authorization`` header parameter."""
    import yaml

    document = _relaxed(yaml.safe_load(path.read_text()))
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            operation["parameters"] = [
                parameter
                for parameter in operation.get("parameters", [])
                if not (parameter.get("in") == "header" and parameter["name"] == "Authorization")
            ]
            responses = operation["responses"]
            if method == "post" and "200" in responses and "201" not in responses:
                responses["201"] = responses.pop("200")
    return document


def client_bodies(method: str, route: str) -> list[dict]:
    """The bodies a Midaz client sends to create (POST) or update (PATCH) at ``route``."""
    collection = route.removesuffix("/{id}").rsplit("/", 1)[-1]
    if collection not in CLIENT_BODIES:
        return []
    creates, updates = CLIENT_BODIES[collection]
    if method == "post" and not route.endswith("/{id}"):
        return creates
    if method == "patch" and route.endswith("/{id}"):
        return updates
    return []


def path_values(path: str, ids: dict) -> dict[str, str]:
    """The seeded rows' ids for the path's parameters: ``{id}`` is the entity of its
    collection; ``{alias}`` and ``{code}`` the seeded account's alias and external code."""
    entity = {
        "organizations": ids["organization"],
        "ledgers": ids["ledger"],
        "segments": ids["segment"],
        "portfolios": ids["portfolio"],
        "accounts": ids["account"],
    }
    values = {
        "organization_id": ids["organization"],
        "ledger_id": ids["ledger"],
        "alias": ids["alias"],
        "code": ids["external_code"],
    }
    if "{id}" in path:
        values["id"] = entity[path.split("/{id}")[0].rsplit("/", 1)[-1]]
    return {name: value for name, value in values.items() if f"{{{name}}}" in path}


def strategies(operation, ids: dict) -> list[tuple[str, Any, dict[str, str]]]:
    """(label, generation mode, fixed path parameters) for one operation: valid requests
    on the seeded rows; invalid ones where a query parameter is left to break (a binary
    string body has no invalid form in JSON); generated aliases and external codes on
    the routes that take them."""
    from schemathesis import GenerationMode

    fixed = path_values(operation.path, ids)
    plans = [("positive", GenerationMode.POSITIVE, fixed)]
    parameters = operation.definition.raw.get("parameters", [])
    if any(parameter.get("in") == "query" for parameter in parameters):
        plans.append(("negative", GenerationMode.NEGATIVE, fixed))
    free = {name: value for name, value in fixed.items() if name not in ("alias", "code")}
    if free != fixed:
        plans.append(("generated path", GenerationMode.POSITIVE, free))
    return plans


@dataclass
class Tally:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    content_types: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)

    def count(self, response) -> None:
        self.statuses[response.status_code] += 1
        content_type = response.headers.get("content-type", ["-"])[0]
        self.content_types[content_type.split(";")[0]] += 1


def send_client_bodies(operations, base: str, token: str, ids: dict, tally: Tally) -> None:
    """Each create and update, with each body a Midaz client sends: it must succeed and
    answer as Midaz's document says. (Schemathesis raises failed checks as a
    ``FailureGroup``, a ``BaseExceptionGroup``: caught with the rest.)"""
    from tests.api.test_openapi_conformance import CHECKS

    for operation in operations:
        for body in client_bodies(operation.method.lower(), operation.path):
            case = operation.Case(
                path_parameters=path_values(operation.path, ids),
                headers={"Authorization": f"Bearer {token}"},
                body=body,
                media_type="application/json",
            )
            try:
                response = case.call(base_url=f"{base}/v1", timeout=30)
                tally.count(response)
                case.validate_response(response, checks=CHECKS)
                if response.status_code >= 300:
                    raise AssertionError(f"refused {json.dumps(body)}: {response.text}")
            except (Exception, BaseExceptionGroup) as failure:
                where = f"{operation.method.upper()} {operation.path} (a Midaz client's body)"
                tally.failures.append(f"{where}: {failure}")


def fuzz(base: str, token: str, ids: dict, wanted: int) -> int:
    import hypothesis
    import schemathesis

    from tests.api.test_openapi_conformance import CHECKS

    config = schemathesis.Config.from_dict(
        {"headers": {"Authorization": f"Bearer {token}"}, "generation": {"database": "none"}}
    )
    schema = schemathesis.openapi.from_dict(midaz_document(), config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    plans = [(operation, *plan) for operation in operations for plan in strategies(operation, ids)]
    per_plan = -(-wanted // len(plans))
    tally = Tally()
    started = time.monotonic()
    send_client_bodies(operations, base, token, ids, tally)
    for operation, label, mode, fixed in plans:
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        sent = 0

        @hypothesis.given(case=strategy)
        @hypothesis.settings(
            max_examples=per_plan,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def answers_as_midaz_documents(case):
            nonlocal sent
            response = case.call(base_url=f"{base}/v1", timeout=30)
            sent += 1
            tally.count(response)
            case.validate_response(response, checks=CHECKS)

        # Hypothesis stops early where an operation has few distinct inputs: top up.
        while True:
            before = sent
            try:
                answers_as_midaz_documents()
            except (Exception, BaseExceptionGroup) as failure:  # report all, not the first
                where = f"{operation.method.upper()} {operation.path} ({label})"
                tally.failures.append(f"{where}: {failure}")
                break
            if sent >= per_plan or sent == before:
                break

    total = sum(tally.statuses.values())
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    print(f"\nSchemathesis fuzzing of Midaz's own OpenAPI document ({REFERENCE.name})")
    print(f"  operations:            {len(operations)} ({len(plans)} generation strategies)")
    print(f"  requests sent:         {total}")
    print(f"  seconds:               {time.monotonic() - started:.1f}")
    print(f"  answers by status:     {dict(sorted(tally.statuses.items()))}")
    print(f"  content types:         {dict(sorted(tally.content_types.items()))}")
    print(f"  5xx responses:         {server_errors}")
    print(f"  failures:              {len(tally.failures)}")
    for failure in tally.failures[:40]:
        print("   -", " ".join(failure.split())[:400])
    ok = total >= wanted and server_errors == 0 and not tally.failures
    print("  result:                " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def give_a_complete_address(base: str, token: str, organization_id: str) -> None:
    """Midaz requires an address; the seeded organization gets one over the API."""
    request = urllib.request.Request(
        f"{base}/v1/organizations/{organization_id}",
        data=json.dumps({"address": ADDRESS}).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    if not REFERENCE.exists():
        sys.exit(f"Midaz's OpenAPI document not found at {REFERENCE} (set MIDAZ_OPENAPI)")
    url = os.environ.get(
        "FUZZ_MIDAZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seg_fuzz_midaz"
    )
    with live_app(url, args.port) as app:
        give_a_complete_address(app.base, app.token, app.ids["organization"])
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segments_console.test_settings")
        import django

        django.setup()  # the shared checks live beside the in-suite conformance test
        try:
            return fuzz(app.base, app.token, app.ids, args.requests)
        finally:
            logged = logged_tracebacks(app.server_log)
            if logged:
                print("gunicorn logged tracebacks:\n" + logged)


if __name__ == "__main__":
    sys.exit(main())
