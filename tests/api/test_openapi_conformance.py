"""The served OpenAPI document tells the truth: Schemathesis generates requests for every
operation of ``/v1/openapi.json`` (valid and invalid ones, a bounded number each), sends
them to the app in-process, authenticated, and checks that no answer is a 5xx and that
every status code, content type, header and body is the one documented.

Path ids point at real entities of one organization so that requests reach past the
404, and the caller is a staff operator: it may create and change, not delete (every
DELETE is a documented 403; the delete paths are covered by ``test_crud``).
"""

from __future__ import annotations

import re

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from segments import services
from segments.models import Role
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)

MAX_EXAMPLES = 10  # per operation and per mode (valid, invalid): ~1,000 requests in all
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def path_ids(path: str, ids: dict[str, str]) -> dict[str, str]:
    """Real ids for the path's parameters: ``{id}`` names the entity of its collection."""
    fixed = {"organization_id": ids["organization"], "ledger_id": ids["ledger"]}
    at_organization_level = "{ledger_id}" not in path
    fixed["segment_id"] = ids["organization_segments" if at_organization_level else "segments"]
    if "{id}" in path:
        collection = path.split("/{id}")[0].rsplit("/", 1)[-1]
        if collection in ("segments", "benefits") and at_organization_level:
            collection = f"organization_{collection}"
        fixed["id"] = ids[collection]
    return {name: value for name, value in fixed.items() if f"{{{name}}}" in path}


def _benefit(user, segment, name: str):
    return services.create_benefit(
        user, segment, name=name, kind="service", parameters={"serviceCode": name.lower()}
    )


@pytest.fixture
def world(db) -> tuple[dict[str, str], str]:
    """One organization with one of everything, and a staff operator's token."""
    organization = OrganizationFactory()
    ledger = LedgerFactory(organization=organization)
    segment = SegmentFactory(ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger, segment=segment)
    account = AccountFactory(ledger=ledger, alias="@maria", portfolio=portfolio)
    AccountFactory.create_batch(3, ledger=ledger, segment=segment)
    user = UserFactory(username="schemathesis", is_staff=True)
    member(user, organization, Role.OPERATOR)
    org_segment = SegmentFactory(ledger=None, organization=organization)
    ids = {
        "organizations": str(organization.pk),
        "organization": str(organization.pk),
        "ledgers": str(ledger.pk),
        "ledger": str(ledger.pk),
        "segments": str(segment.pk),
        "organization_segments": str(org_segment.pk),
        "portfolios": str(portfolio.pk),
        "accounts": str(account.pk),
        "benefits": str(_benefit(user, segment, "Lounge").pk),
        "organization_benefits": str(_benefit(user, org_segment, "Concierge").pk),
    }
    return ids, token_for(user)


def generation_modes(operation) -> list[GenerationMode]:
    """Valid requests always; invalid ones where something is left to break once the path
    ids are fixed (a query parameter or a body; any text is a valid alias or header)."""
    definition = operation.definition.raw
    breakable = "requestBody" in definition or any(
        parameter.get("in") == "query" for parameter in definition.get("parameters", [])
    )
    return (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if breakable
        else [GenerationMode.POSITIVE]
    )


@pytest.fixture
def in_process_app(settings):
    """The WSGI app, called in the test's thread and transaction. Like Django's test
    client, keep the test's connection open between requests."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # Schemathesis's WSGI host
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_answers_as_documented(world, in_process_app):
    ids, token = world
    config = schemathesis.Config.from_dict(
        {"headers": {"Authorization": f"Bearer {token}"}, "generation": {"database": "none"}}
    )
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", in_process_app, config=config)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        for mode in generation_modes(operation):
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=path_ids(operation.path, ids)
            )

            @hypothesis.given(case=strategy)
            @hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def answers_as_documented(case):
                case.call_and_validate(checks=CHECKS)

            try:
                answers_as_documented()
            except Exception as failure:  # every operation is reported, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {failure}")
    assert not failures, "\n\n".join(failures)


def test_the_document_is_served_as_json_and_yaml_with_a_docs_page(client):
    as_json = client.get("/v1/openapi.json")
    assert as_json.status_code == 200
    document = as_json.json()
    assert document["openapi"].startswith("3.")
    assert "/v1/organizations/{organization_id}/ledgers/{ledger_id}/segments" in document["paths"]
    assert "head" in document["paths"]["/v1/organizations/metrics/count"]
    assert "Problem" in document["components"]["schemas"]
    as_yaml = client.get("/v1/openapi.yaml")
    assert as_yaml.status_code == 200
    assert b"openapi: 3." in as_yaml.content
    docs = client.get("/v1/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert not re.search(r"<script>|<style>|https?://", page), "no inline code, no CDN"


def test_the_document_is_valid_openapi(client):
    """The served document passes the OpenAPI 3.0 schema check (drf-spectacular's own,
    as ``manage.py spectacular --validate``): client generators refuse an invalid one."""
    validate_schema(client.get("/v1/openapi.json").json())
