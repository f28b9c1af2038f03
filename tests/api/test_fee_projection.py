"""A segment's fee benefits as Midaz fee-package fragments (issue #13 item 2):
``GET S/benefits/midaz-fee-projection`` under both segment paths. The fragments have the
shapes the contract gives (``segmentId`` the segment's, ``waivedAccounts`` entries
``segment:<uuid>``, decimals as strings), only the waivers and discounts that apply at
``at`` are projected, the others are named with their reasons, and the answer takes the
same queries whatever the number of benefits."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments.models import Role
from tests.factories import (
    LedgerFactory,
    OrganizationFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

PROJECTION = "midaz-fee-projection"
LOUNGE = {"kind": "service", "parameters": {"serviceCode": "vip-lounge"}}
CASHBACK = {"kind": "cashback", "parameters": {"percentage": "2", "assetCode": "BRL"}}
DECIMAL_TEXT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
RFC3339_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
INSTANT = {"type": ["string", "null"], "pattern": RFC3339_UTC}


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def waiver(**parameters: Any) -> dict[str, Any]:
    return {"kind": "feeWaiver", "parameters": parameters}


def discount(**parameters: Any) -> dict[str, Any]:
    return {"kind": "feeDiscount", "parameters": parameters}


def _fragment_schema(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    common = {
        "benefitId": {"type": "string", "format": "uuid"},
        "benefitName": {"type": "string", "minLength": 1},
        "benefitVersion": {"type": "integer", "minimum": 1},
        "kind": {"const": kind},
        "transactionRoute": {"type": ["string", "null"]},
        "validFrom": INSTANT,
        "validUntil": INSTANT,
    }
    every = {**common, **properties}
    return {
        "type": "object",
        "properties": every,
        "required": sorted(every),
        "additionalProperties": False,
    }


def projection_schema(segment_id: str) -> dict[str, Any]:
    """The contract's shapes (``shared/spec/benefits.md``), as a JSON Schema."""
    waived = {"type": "string", "pattern": f"^segment:{re.escape(segment_id)}$"}
    calculation = {
        "type": "object",
        "properties": {"type": {"enum": ["percentage", "flat"]}, "value": DECIMAL_TEXT},
        "required": ["type", "value"],
        "additionalProperties": False,
    }
    fee_waiver = _fragment_schema(
        "feeWaiver",
        {
            "waivedAccounts": {"type": "array", "items": waived, "minItems": 1},
            "feeKeys": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    )
    fee_discount = _fragment_schema(
        "feeDiscount",
        {
            "segmentId": {"const": segment_id},
            "calculationModel": {
                "type": "object",
                "properties": {
                    "applicationRule": {"enum": ["percentual", "flatFee"]},
                    "calculations": {"type": "array", "items": calculation, "minItems": 1},
                },
                "required": ["applicationRule", "calculations"],
                "additionalProperties": False,
            },
            "assetCode": {"type": ["string", "null"], "pattern": "^[A-Z0-9]{1,10}$"},
        },
    )
    not_projected = {
        "type": "object",
        "properties": {
            "benefitId": {"type": "string"},
            "name": {"type": "string"},
            "reason": {"pattern": "^(expired|notYetValid|inactive|outrankedBy:[0-9a-f-]{36})$"},
        },
        "required": ["benefitId", "name", "reason"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "segmentId": {"const": segment_id},
            "at": {"type": "string", "pattern": RFC3339_UTC},
            "items": {"type": "array", "items": {"oneOf": [fee_waiver, fee_discount]}},
            "notProjected": {"type": "array", "items": not_projected},
        },
        "required": ["segmentId", "at", "items", "notProjected"],
        "additionalProperties": False,
    }


@pytest.fixture
def world(client_for):
    ledger = LedgerFactory()
    segment = SegmentFactory(ledger=ledger, name="Student")
    org_segment = SegmentFactory(ledger=None, organization=ledger.organization, name="Group")
    users = {role: UserFactory(username=role) for role in (Role.OPERATOR, Role.VIEWER)}
    for role, user in users.items():
        member(user, ledger.organization, role)
    organization_url = f"/v1/organizations/{ledger.organization_id}"
    return {
        "segment": segment,
        "org_segment": org_segment,
        "api": client_for(users[Role.OPERATOR]),
        "viewer": client_for(users[Role.VIEWER]),
        "benefits": f"{organization_url}/ledgers/{ledger.pk}/segments/{segment.pk}/benefits",
        "org_benefits": f"{organization_url}/segments/{org_segment.pk}/benefits",
    }


def create(world, name: str, body: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    response = world["api"].post(url or world["benefits"], {"name": name, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def project(world, url: str | None = None, **query: str) -> dict[str, Any]:
    """The projection as the viewer reads it, checked against the contract's shapes."""
    response = world["viewer"].get(f"{url or world['benefits']}/{PROJECTION}", query)
    assert response.status_code == 200, response.content
    body = response.json()
    jsonschema.validate(body, projection_schema(body["segmentId"]))
    return body


def by_benefit(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["benefitId"]: item for item in body["items"]}


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_waivers_and_discounts_are_projected_as_midaz_fragments(world):
    segment_id = str(world["segment"].pk)
    tariff = create(world, "No PIX tariff", waiver(feeKeys=["tariff"], transactionRoute="pix"))
    every_fee = create(world, "Free account", waiver())
    half = create(world, "Half maintenance", discount(percentage="50"))
    flat = create(world, "2.50 off", {**discount(amount="2.50", assetCode="BRL"), "priority": 5})
    create(world, "Lounge", LOUNGE)
    body = project(world)
    assert body["segmentId"] == segment_id
    fragments = by_benefit(body)
    assert set(fragments) == {tariff["id"], every_fee["id"], half["id"], flat["id"]}
    assert body["items"][0]["benefitId"] == flat["id"], "in priority order"
    assert fragments[tariff["id"]] == {
        "benefitId": tariff["id"],
        "benefitName": "No PIX tariff",
        "benefitVersion": 1,
        "kind": "feeWaiver",
        "waivedAccounts": [f"segment:{segment_id}"],
        "transactionRoute": "pix",
        "feeKeys": ["tariff"],
        "validFrom": None,
        "validUntil": None,
    }
    every = fragments[every_fee["id"]]
    assert (every["feeKeys"], every["transactionRoute"]) == (None, None), "every fee, any route"
    assert fragments[half["id"]]["calculationModel"] == {
        "applicationRule": "percentual",
        "calculations": [{"type": "percentage", "value": "50"}],
    }
    assert (fragments[half["id"]]["segmentId"], fragments[half["id"]]["assetCode"]) == (
        segment_id,
        None,
    )
    assert fragments[flat["id"]]["calculationModel"] == {
        "applicationRule": "flatFee",
        "calculations": [{"type": "flat", "value": "2.50"}],
    }
    assert fragments[flat["id"]]["assetCode"] == "BRL"
    assert body["notProjected"] == [], "a service benefit is not mentioned"


def test_fee_benefits_that_do_not_apply_are_named_with_their_reasons(world):
    now = dt.datetime.now(dt.UTC)
    expired = create(world, "Launch", {**waiver(), "validUntil": iso(now - dt.timedelta(days=1))})
    future = create(
        world,
        "Next year",
        {**discount(percentage="10"), "validFrom": iso(now + dt.timedelta(days=9))},
    )
    paused = create(world, "Paused", {**waiver(), "status": {"code": "INACTIVE"}})
    winner = create(
        world, "Gold", {**discount(percentage="30"), "exclusivityGroup": "fee", "priority": 1}
    )
    loser = create(
        world, "Silver", {**discount(percentage="20"), "exclusivityGroup": "fee", "priority": 2}
    )
    cashback = create(world, "Cashback", {**CASHBACK, "exclusivityGroup": "perk", "priority": 1})
    outranked_by_cashback = create(
        world, "Perk waiver", {**waiver(), "exclusivityGroup": "perk", "priority": 2}
    )
    create(world, "Old lounge", {**LOUNGE, "validUntil": iso(now - dt.timedelta(days=1))})
    body = project(world)
    assert [item["benefitId"] for item in body["items"]] == [winner["id"]]
    assert {item["benefitId"]: item["reason"] for item in body["notProjected"]} == {
        expired["id"]: "expired",
        future["id"]: "notYetValid",
        paused["id"]: "inactive",
        loser["id"]: f"outrankedBy:{winner['id']}",
        outranked_by_cashback["id"]: f"outrankedBy:{cashback['id']}",
    }
    names = {item["benefitId"]: item["name"] for item in body["notProjected"]}
    assert names[loser["id"]] == "Silver"


def test_at_answers_each_benefit_as_of_its_version_then(world):
    created = create(world, "Maintenance", discount(percentage="10"))
    before_change = dt.datetime.now(dt.UTC)
    changed = world["api"].patch(
        f"{world['benefits']}/{created['id']}",
        {"parameters": {"amount": "3", "assetCode": "USD"}},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    [then] = project(world, at=iso(before_change))["items"]
    assert (then["benefitVersion"], then["assetCode"]) == (1, None)
    assert then["calculationModel"]["calculations"] == [{"type": "percentage", "value": "10"}]
    [now] = project(world)["items"]
    assert (now["benefitVersion"], now["assetCode"]) == (2, "USD")
    assert now["calculationModel"] == {
        "applicationRule": "flatFee",
        "calculations": [{"type": "flat", "value": "3"}],
    }
    before_creation = project(world, at="2000-01-01T00:00:00Z")
    assert (before_creation["at"], before_creation["items"]) == ("2000-01-01T00:00:00Z", [])


def test_a_bad_instant_is_a_problem(world):
    url = f"{world['benefits']}/{PROJECTION}"
    assert_problem(world["viewer"].get(url, {"at": "yesterday"}), 400, "0082")
    assert_problem(world["viewer"].get(url, {"at": "9999-12-31T23:59:59-12:00"}), 400, "0082")


def test_organization_level_segments_are_projected_too(world):
    org_id = str(world["org_segment"].pk)
    waived = create(world, "Group waiver", waiver(feeKeys=["wire"]), url=world["org_benefits"])
    body = project(world, url=world["org_benefits"])
    assert body["segmentId"] == org_id
    assert [item["benefitId"] for item in body["items"]] == [waived["id"]]
    assert body["items"][0]["waivedAccounts"] == [f"segment:{org_id}"]
    assert project(world)["items"] == [], "the ledger segment has no benefit"


def test_other_tenants_and_unknown_segments_are_not_found(world, client_for):
    create(world, "Free account", waiver())
    stranger = UserFactory(username="stranger")
    member(stranger, OrganizationFactory(), Role.ADMIN)
    url = f"{world['benefits']}/{PROJECTION}"
    assert_problem(client_for(stranger).get(url), 404, "0007")
    unknown = url.replace(str(world["segment"].pk), "0191f7e2-0000-7000-8000-000000000000")
    assert_problem(world["viewer"].get(unknown), 404, "0007")
    org_segment_under_ledger = url.replace(str(world["segment"].pk), str(world["org_segment"].pk))
    assert_problem(world["viewer"].get(org_segment_under_ledger), 404, "0007")
    assert world["viewer"].post(url, {}, format="json").status_code == 405
    assert client_for(None).get(url).status_code == 401


def test_the_projection_route_leaves_the_benefit_routes_alone(world):
    created = create(world, "Free account", waiver())
    assert world["viewer"].get(f"{world['benefits']}/{created['id']}").status_code == 200
    assert_problem(world["viewer"].get(f"{world['benefits']}/{PROJECTION}x"), 400, "0065")


def test_the_projection_takes_the_same_queries_for_one_or_five_benefits(world):
    url = f"{world['benefits']}/{PROJECTION}"
    create(world, "Waiver 0", waiver())
    with CaptureQueriesContext(connection) as one:
        assert world["viewer"].get(url).status_code == 200
    for number in range(1, 5):
        create(world, f"Discount {number}", discount(percentage=str(number)))
    with CaptureQueriesContext(connection) as five:
        answer = world["viewer"].get(url)
    assert len(answer.json()["items"]) == 5
    assert len(five) == len(one) <= 3, [query["sql"] for query in five]


def _as_json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` as a null type, refs inline."""
    if isinstance(node, list):
        return [_as_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _as_json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    schema = {key: _as_json_schema(value, components) for key, value in node.items()}
    if schema.pop("nullable", False):
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def test_the_openapi_document_describes_the_projection(world):
    waived = create(world, "No PIX tariff", waiver(feeKeys=["tariff"], transactionRoute="pix"))
    create(world, "2.50 off", discount(amount="2.50", assetCode="BRL"))
    create(world, "Expired", {**discount(percentage="5"), "validUntil": "2001-01-01T00:00:00Z"})
    document = world["viewer"].get("/v1/openapi.json").json()
    for segments in ("/ledgers/{ledger_id}/segments", "/segments"):
        path = (
            f"/v1/organizations/{{organization_id}}{segments}/{{segment_id}}/benefits/{PROJECTION}"
        )
        assert "get" in document["paths"][path], path
    components = copy.deepcopy(document["components"]["schemas"])
    schema = _as_json_schema(components["MidazFeeProjection"], components)
    body = project(world)
    assert waived["id"] in by_benefit(body) and body["notProjected"]
    jsonschema.validate(body, schema)
    for item in body["items"]:
        for other in {"feeWaiver", "feeDiscount"} - {item["kind"]}:
            variant = f"{other[:1].upper()}{other[1:]}Fragment"
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(item, _as_json_schema(components[variant], components))
