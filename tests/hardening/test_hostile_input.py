"""Hostile request input answers a clear 4xx and writes nothing (issue #10 items 1, 6, 8;
issue #11 items 4, 6), through HTTP: the API's problem documents, the console's and the
admin's messages beside the field.

Every refusal is checked for its status, its code, the place it names and that no row
changed (row ids and ``updated_at`` of every entity, history and idempotency records
compared before and after). API problem bodies are also validated against the
``Problem`` schema of the OpenAPI document we serve.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest
from rest_framework.test import APIClient

from segments.models import (
    Account,
    IdempotencyRecord,
    Ledger,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
    Status,
)
from tests.console.conftest import htmx, url
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)

pytestmark = pytest.mark.django_db

NUL = "\u0000"
ORG = {"legalName": "A", "legalDocument": "1"}
ACCOUNT = {"type": "deposit", "assetCode": "BRL"}
DEEP_OBJECTS = '{"a": ' * 20_000 + "1" + "}" * 20_000
_problem_schema: dict[str, Any] = {}


# --------------------------------------------------------------------------- helpers


def snapshot() -> dict[str, Any]:
    """What a refused request must leave as it was."""
    state: dict[str, Any] = {
        model.__name__: sorted(model.all_objects.values_list("id", "updated_at", "metadata"))
        for model in (Organization, Ledger, Segment, Portfolio, Account)
    }
    state["history"] = SegmentHistory.objects.count()
    state["idempotency"] = IdempotencyRecord.objects.count()
    return state


def problem_schema(client: APIClient) -> dict[str, Any]:
    """The served document's ``Problem`` schema, with its components to resolve refs."""
    if not _problem_schema:
        document = client.get("/v1/openapi.json").json()
        _problem_schema.update(
            {"$ref": "#/components/schemas/Problem", "components": document["components"]}
        )
    return _problem_schema


def assert_problem(response, status: int, code: str, client: APIClient | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code), problem
    assert problem["detail"] == problem["message"]
    if "errors" in problem:
        assert {e["location"]: e["message"] for e in problem["errors"]} == problem["fields"]
    jsonschema.validate(problem, problem_schema(client or APIClient()))
    return problem


def raw_post(client: APIClient, path: str, body: str | bytes, **headers: str):
    data = body.encode() if isinstance(body, str) else body
    return client.generic("POST", path, data, content_type="application/json", **headers)


@pytest.fixture
def api(db) -> dict[str, Any]:
    ledger = LedgerFactory()
    user = UserFactory(username="hostile", is_staff=True)
    member(user, ledger.organization, Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    org = f"/v1/organizations/{ledger.organization_id}"
    return {
        "client": client,
        "ledger": ledger,
        "org": org,
        "base": f"{org}/ledgers/{ledger.pk}",
        "segment": SegmentFactory(ledger=ledger, name="Black", metadata={"tier": "black"}),
        "account": AccountFactory(ledger=ledger, alias="@maria"),
    }


# --------------------------------------------------------------------------- 1. bodies


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("[" * 50_000 + "]" * 50_000, "nested"),
        ('{"name": "Deep", "metadata": {"k": ' + "[" * 40 + "]" * 40 + "}}", "nested"),
        ('{"name": "Deep", "metadata": {"k": ' + DEEP_OBJECTS + "}}", "nested"),
        ('{"name": "Nan", "metadata": {"k": NaN}}', "NaN"),
        ('{"name": "Inf", "metadata": {"k": Infinity}}', "Infinity"),
        ('{"name": "Inf", "metadata": {"k": -Infinity}}', "-Infinity"),
        ('{"name": "Big", "metadata": {"k": 1e400}}', "metadata.k"),
        ('{"name": "Big", "metadata": {"k": -1e400}}', "metadata.k"),
        ('{"name": "Big", "metadata": {"k": ' + "9" * 5000 + "}}", "metadata.k"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "Ok", "metadata": {"k": "a\\udfffb"}}', "metadata.k"),
        ('{"name": "Ok", "metadata": {"\\ud83d": "v"}}', "metadata"),
        ('{"name": "a", "name": "b"}', "name"),
        ('{"name": "a", "status": {"code": "ACTIVE", "code": "INACTIVE"}}', "status.code"),
        ('{"name": "a", "metadata": {"k": 1, "k": 2}}', "metadata.k"),
    ],
    ids=[
        "50k-deep-array",
        "40-deep-in-metadata",
        "20k-deep-objects",
        "nan",
        "infinity",
        "minus-infinity",
        "1e400",
        "-1e400",
        "5000-digit-int",
        "lone-high-surrogate",
        "lone-low-surrogate-in-value",
        "lone-surrogate-in-key",
        "duplicate-top-level-key",
        "duplicate-nested-key",
        "duplicate-metadata-key",
    ],
)
def test_bodies_that_json_cannot_carry_safely_are_0094(api, body, what):
    before = snapshot()
    response = raw_post(api["client"], f"{api['base']}/segments", body)
    problem = assert_problem(response, 400, "0094", api["client"])
    assert what in json.dumps(problem), problem
    assert snapshot() == before


def test_a_duplicate_key_is_named_and_refused_on_patch_too(api):
    segment = api["segment"]
    before = snapshot()
    response = api["client"].generic(
        "PATCH",
        f"{api['base']}/segments/{segment.pk}",
        '{"description": "one", "description": "two"}',
        content_type="application/json",
    )
    problem = assert_problem(response, 400, "0094", api["client"])
    assert problem["fields"] == {"description": "duplicate key"}
    assert snapshot() == before


def test_an_unknown_charset_is_0094_not_a_crash(api):
    response = api["client"].generic(
        "POST",
        f"{api['base']}/segments",
        b'{"name": "Gold"}',
        content_type="application/json; charset=no-such-codec",
    )
    assert_problem(response, 400, "0094", api["client"])
    assert not Segment.objects.filter(name="Gold").exists()


def test_ordinary_json_still_parses(api):
    body = '{"name": "Gold", "metadata": {"pi": 3.14, "big": 1e300, "tab": "a\\tb", "e": "é"}}'
    response = raw_post(api["client"], f"{api['base']}/segments", body)
    assert response.status_code == 201, response.content
    assert response.json()["metadata"] == {"pi": 3.14, "big": 1e300, "tab": "a\tb", "e": "é"}


# --------------------------------------------------------------------------- 2. NUL, controls


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("segments", {"name": f"Gold{NUL}"}, "name"),
        ("segments", {"name": "Gold", "description": f"a{NUL}b"}, "description"),
        ("segments", {"name": "Gold", "status": {"description": f"x{NUL}"}}, "status.description"),
        ("segments", {"name": "Gold", "metadata": {"k": f"v{NUL}"}}, "metadata"),
        ("segments", {"name": "Gold", "metadata": {f"k{NUL}": "v"}}, "metadata"),
        ("segments", {"name": "Gold\x1b[31m"}, "name"),
        ("portfolios", {"name": "P", "entityId": f"e{NUL}"}, "entityId"),
        ("accounts", {"type": f"deposit{NUL}", "assetCode": "BRL"}, "type"),
        ("accounts", {"type": "deposit", "assetCode": "BRL", "alias": f"@a{NUL}"}, "alias"),
        ("accounts", {"type": "deposit", "assetCode": "BRL", "name": f"n{NUL}"}, "name"),
        ("ledgers", {"name": f"L{NUL}"}, "name"),
        ("organizations", ORG | {"legalName": f"A{NUL}"}, "legalName"),
        ("organizations", ORG | {"address": {"city": f"c{NUL}"}}, "address.city"),
        ("organizations", ORG | {"address": {"city": "c\x01"}}, "address"),
    ],
)
def test_nul_and_control_characters_in_text_are_0047_naming_the_field(api, path, body, field):
    prefix = {"organizations": "/v1", "ledgers": api["org"]}.get(path, api["base"])
    before = snapshot()
    response = api["client"].post(f"{prefix}/{path}", body, format="json")
    problem = assert_problem(response, 400, "0047", api["client"])
    assert field in problem["fields"], problem
    assert snapshot() == before


def test_nul_in_an_update_is_0047_and_changes_nothing(api):
    segment, account = api["segment"], api["account"]
    before = snapshot()
    for url_, body, field in [
        (f"segments/{segment.pk}", {"name": f"Bl{NUL}ack"}, "name"),
        (f"segments/{segment.pk}", {"metadata": {"tier": f"{NUL}"}}, "metadata"),
        (f"accounts/{account.pk}", {"metadata": {f"{NUL}": 1}}, "metadata"),
        (f"accounts/{account.pk}", {"entityId": f"x{NUL}"}, "entityId"),
    ]:
        response = api["client"].patch(f"{api['base']}/{url_}", body, format="json")
        problem = assert_problem(response, 400, "0047", api["client"])
        assert field in problem["fields"]
    assert snapshot() == before


def test_tabs_and_newlines_stay_allowed(api):
    body = {"name": "Gold", "description": "line one\nline two\r\n\tindented"}
    response = api["client"].post(f"{api['base']}/segments", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["description"] == body["description"]


def test_console_metadata_with_nul_is_an_error_beside_the_row(client, ledger, operator):
    client.force_login(operator)
    data = {
        "name": "Gold",
        "status": "ACTIVE",
        "description": "",
        "metadata_key": ["tier", "code"],
        "metadata_value": ["gold", f"x{NUL}y"],
    }
    before = snapshot()
    response = client.post(
        url("segment_create", organization_id=ledger.organization_id, ledger_id=ledger.pk),
        data,
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "has-error" in response.text
    assert "control characters" in response.text
    assert snapshot() == before


def test_console_metadata_key_with_nul_is_an_error_beside_the_row(client, ledger, operator):
    client.force_login(operator)
    segment = SegmentFactory(ledger=ledger, name="Silver", metadata={"a": "1"})
    data = {
        "name": "Silver",
        "status": "ACTIVE",
        "description": "",
        "metadata_key": [f"k{NUL}"],
        "metadata_value": ["v"],
    }
    before = snapshot()
    response = client.post(
        url(
            "segment_edit",
            organization_id=ledger.organization_id,
            ledger_id=ledger.pk,
            segment_id=segment.pk,
        ),
        data,
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "control characters" in response.text
    assert snapshot() == before


def _admin_form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "expected the form back with errors"
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"metadata": '{"tier": "a\\u0000b"}'}, "metadata"),
        ({"metadata": '{"ti\\u0000er": "a"}'}, "metadata"),
        ({"metadata": '{"tier": "\\ud800"}'}, "metadata"),
        ({"name": f"Gold{NUL}"}, "name"),
        ({"description": "bell\x07"}, "description"),
    ],
)
def test_admin_change_form_with_nul_shows_the_error_beside_the_field(
    client, ledger, overrides, field
):
    staff = UserFactory(username="back-office", is_staff=True, is_superuser=True)
    client.force_login(staff)
    segment = SegmentFactory(ledger=ledger, name="Silver", metadata={"tier": "s"})
    data = {
        "name": segment.name,
        "description": "",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": json.dumps(segment.metadata),
    } | overrides
    before = snapshot()
    response = client.post(f"/admin/segments/segment/{segment.pk}/change/", data)
    errors = _admin_form_errors(response)
    assert field in errors, errors
    assert snapshot() == before


# -------------------------------------------------------------------- 3. headers, query, path


@pytest.mark.parametrize("key", [f"abc{NUL}def", "abc\x01", "tab\there", "x" * 256, " "])
def test_a_garbage_idempotency_key_is_refused_naming_the_header(api, key):
    before = snapshot()
    response = api["client"].post(
        f"{api['base']}/segments", {"name": "Gold"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    problem = assert_problem(response, 400, "0047", api["client"])
    assert list(problem["fields"]) == ["Idempotency-Key"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "params",
    [
        {f"metadata.ti{NUL}er": "black"},
        {"metadata.tier": f"bl{NUL}ack"},
        {"alias": f"@m{NUL}"},
        {"type": f"d{NUL}"},
        {"q": f"m{NUL}"},
        {"segment_id": f"none{NUL}"},
        {"unknown_but_sent": f"x{NUL}"},
    ],
    ids=lambda params: next(iter(params)).replace(NUL, "NUL"),
)
def test_nul_in_a_query_parameter_is_0082_naming_it(api, params):
    name = next(iter(params))
    for path in ("accounts", "accounts/metrics/count", f"segments/{api['segment'].pk}/members"):
        method = api["client"].head if path.endswith("count") else api["client"].get
        response = method(f"{api['base']}/{path}", params)
        assert response.status_code == 400, (path, response.content)
        if method is api["client"].get:
            problem = assert_problem(response, 400, "0082", api["client"])
            assert list(problem["fields"]) == [name], problem
    response = api["client"].get(f"{api['base']}/segments", params)
    assert_problem(response, 400, "0082", api["client"])


def test_a_metadata_key_of_digits_is_a_key_not_an_array_index(api, client):
    """``metadata.5`` filters on the key "5" (Django reads digits as an array index), and a
    key too big for any index is just a key that no row has — never a 500."""
    numbered = SegmentFactory(ledger=api["ledger"], name="Numbered", metadata={"5": "x"})
    SegmentFactory(ledger=api["ledger"], name="Other", metadata={"6": "x"})
    found = api["client"].get(f"{api['base']}/segments", {"metadata.5": "x"})
    assert found.status_code == 200, found.content
    assert [item["id"] for item in found.json()["items"]] == [str(numbered.pk)]
    for path in ("segments", "accounts", "portfolios", "accounts/metrics/count"):
        method = api["client"].head if path.endswith("count") else api["client"].get
        response = method(f"{api['base']}/{path}", {"metadata.18446744073709551616": "v"})
        assert response.status_code in (200, 204), (path, response.content)
        assert response["X-Total-Count"] == "0"
    user = UserFactory(username="digits-viewer")
    member(user, api["ledger"].organization, Role.VIEWER)
    client.force_login(user)
    tab = client.get(
        f"/organizations/{api['ledger'].organization_id}/ledgers/{api['ledger'].pk}/segments/",
        {"metadata": "18446744073709551616=v"},
    )
    assert tab.status_code == 200


@pytest.mark.parametrize("route", ["alias/%40ma%00ria", "external/co%00de", "alias/%00"])
def test_nul_in_an_alias_path_finds_nothing(api, route):
    response = api["client"].get(f"{api['base']}/accounts/{route}")
    assert_problem(response, 404, "0007", api["client"])


def test_the_alias_route_still_finds_the_account(api):
    response = api["client"].get(f"{api['base']}/accounts/alias/@maria")
    assert response.status_code == 200
    assert response.json()["id"] == str(api["account"].pk)


# --------------------------------------------------------------------------- 4. cursors


def _cursor(payload: Any) -> str:
    text = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


GOOD_ID = "0191f7e2-0000-7000-8000-000000000000"
GOOD_TIME = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor({"t": 5, "i": GOOD_ID, "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": 5, "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": [GOOD_ID], "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": {"a": 1}, "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": None, "d": "next"}),
        _cursor({"t": None, "i": GOOD_ID, "d": "next"}),
        _cursor({"t": [GOOD_TIME], "i": GOOD_ID, "d": "next"}),
        _cursor({"t": "yesterday", "i": GOOD_ID, "d": "next"}),
        _cursor({"t": "2026-01-01T00:00:00", "i": GOOD_ID, "d": "next"}),
        _cursor({"t": "9999-12-31T23:59:59-14:00", "i": GOOD_ID, "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": "not-a-uuid", "d": "next"}),
        _cursor({"t": GOOD_TIME, "i": GOOD_ID, "d": 1}),
        _cursor({"t": GOOD_TIME, "i": GOOD_ID, "d": "sideways"}),
        _cursor({"t": GOOD_TIME, "i": GOOD_ID}),
        _cursor({}),
        _cursor([GOOD_TIME, GOOD_ID, "next"]),
        _cursor("just a string"),
        _cursor(17),
        _cursor(None),
        _cursor(b"not json at all"),
        _cursor(b"\xff\xfe\x00"),
        "***not base64***",
        "A",
        f"abc{NUL}",
    ],
)
def test_a_cursor_of_the_wrong_shape_is_0082(api, cursor):
    response = api["client"].get(f"{api['base']}/accounts", {"cursor": cursor})
    problem = assert_problem(response, 400, "0082", api["client"])
    assert "cursor" in problem["fields"]


def test_a_cursor_from_a_response_still_pages(api):
    AccountFactory.create_batch(3, ledger=api["ledger"])
    first = api["client"].get(f"{api['base']}/accounts", {"limit": 2}).json()
    second = api["client"].get(
        f"{api['base']}/accounts", {"limit": 2, "cursor": first["next_cursor"]}
    )
    assert second.status_code == 200, second.content
    assert len(second.json()["items"]) == 2


# --------------------------------------------------------------------------- 5. sort and pages


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pages_of_a_sorted_account_list_are_in_that_order(api, direction):
    ledger = api["ledger"]
    for alias in ("@delta", "@alpha", "@echo", "@charlie", "@bravo"):
        AccountFactory(ledger=ledger, alias=alias)
    expected = sorted(Account.objects.filter(ledger=ledger).values_list("alias", flat=True))
    if direction == "desc":
        expected.reverse()
    seen: list[str] = []
    for page in (1, 2, 3):
        response = api["client"].get(
            f"{api['base']}/accounts",
            {"sort": "alias", "sort_order": direction, "limit": 2, "page": page},
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["page"] == page
        assert "next_cursor" not in body, "a cursor could not keep this order"
        seen += [item["alias"] for item in body["items"]]
        assert response["X-Total-Count"] == "6"
    assert seen == expected


def test_a_cursor_with_a_sort_it_cannot_follow_is_0082(api):
    AccountFactory.create_batch(3, ledger=api["ledger"])
    cursor = api["client"].get(f"{api['base']}/accounts", {"limit": 2}).json()["next_cursor"]
    response = api["client"].get(
        f"{api['base']}/accounts", {"sort": "alias", "limit": 2, "cursor": cursor}
    )
    problem = assert_problem(response, 400, "0082", api["client"])
    assert "cursor" in problem["fields"]


def test_creation_order_keeps_its_cursor(api):
    AccountFactory.create_batch(3, ledger=api["ledger"])
    body = api["client"].get(f"{api['base']}/accounts", {"sort": "created", "limit": 2}).json()
    assert body["next_cursor"]


# --------------------------------------------------------------------------- 6. wrong JSON types


@pytest.mark.parametrize(
    ("path", "body", "field", "expected"),
    [
        ("segments", {"name": "Gold", "status": "ACTIVE"}, "status", "object"),
        ("segments", {"name": "Gold", "metadata": []}, "metadata", "object"),
        ("segments", {"name": "Gold", "metadata": "tier=gold"}, "metadata", "object"),
        ("segments", {"name": 5}, "name", "string"),
        ("segments", {"name": "Gold", "status": {"code": 1}}, "status.code", "string"),
        ("segments", {"name": "Gold", "description": ["a"]}, "description", "string"),
        ("accounts", ACCOUNT | {"blocked": "yes"}, "blocked", "boolean"),
        ("accounts", ACCOUNT | {"blocked": 1}, "blocked", "boolean"),
        ("accounts", ACCOUNT | {"segmentId": 7}, "segmentId", "string"),
        ("accounts", ACCOUNT | {"type": {"x": 1}}, "type", "string"),
        ("organizations", ORG | {"address": "Rua 1"}, "address", "object"),
        ("organizations", ORG | {"address": {"city": 5}}, "address.city", "string"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_0094_naming_the_expected_type(
    api, path, body, field, expected
):
    prefix = "/v1" if path == "organizations" else api["base"]
    before = snapshot()
    response = api["client"].post(f"{prefix}/{path}", body, format="json")
    problem = assert_problem(response, 400, "0094", api["client"])
    assert field in problem["fields"], problem
    assert expected in problem["fields"][field]
    assert snapshot() == before


def test_wrong_types_in_members_bodies_are_0094(api):
    url_ = f"{api['base']}/segments/{api['segment'].pk}/members"
    before = snapshot()
    for body, field in [
        ({"accountIds": GOOD_ID}, "accountIds"),
        ({"accountIds": [GOOD_ID, 5]}, "accountIds[1]"),
    ]:
        problem = assert_problem(
            api["client"].post(url_, body, format="json"), 400, "0094", api["client"]
        )
        assert field in problem["fields"]
    assert snapshot() == before


def test_a_wrong_type_on_patch_is_0094_and_changes_nothing(api):
    before = snapshot()
    response = api["client"].patch(
        f"{api['base']}/accounts/{api['account'].pk}", {"blocked": "true"}, format="json"
    )
    problem = assert_problem(response, 400, "0094", api["client"])
    assert "boolean" in problem["fields"]["blocked"]
    assert snapshot() == before


def test_the_right_type_breaking_a_rule_stays_0047(api):
    for body, field in [
        ({"name": "x" * 257}, "name"),
        ({"name": "Gold", "status": {"code": "ALIVE"}}, "status.code"),
    ]:
        response = api["client"].post(f"{api['base']}/segments", body, format="json")
        assert field in assert_problem(response, 400, "0047", api["client"])["fields"]
    response = api["client"].post(
        f"{api['base']}/accounts",
        {"type": "deposit", "assetCode": "BRL", "segmentId": "not-a-uuid"},
        format="json",
    )
    assert "segmentId" in assert_problem(response, 400, "0047", api["client"])["fields"]


# --------------------------------------------------------------------------- 7. null keys


def test_midaz_postman_ledger_create_with_null_settings(api):
    response = api["client"].post(
        f"{api['org']}/ledgers",
        {
            "name": "Postman ledger",
            "status": {"code": "ACTIVE", "description": None},
            "metadata": {"project": "onboarding"},
            "settings": None,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Ledger.objects.filter(name="Postman ledger").exists()


def test_midaz_postman_account_create_with_null_holder_and_skip(api):
    response = api["client"].post(
        f"{api['base']}/accounts",
        {
            "assetCode": "BRL",
            "name": "Postman account",
            "alias": "@postman",
            "type": "deposit",
            "parentAccountId": None,
            "entityId": None,
            "portfolioId": None,
            "segmentId": None,
            "holderId": None,
            "skip": None,
            "status": {"code": "ACTIVE", "description": None},
            "metadata": {"origin": "postman"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["alias"], body["holderId"], body["segmentId"]) == ("@postman", None, None)


def test_null_unknown_keys_are_ignored_on_patch_and_nested(api):
    response = api["client"].patch(
        f"{api['base']}/segments/{api['segment'].pk}",
        {"description": "new", "colour": None, "status": {"code": "ACTIVE", "mood": None}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "new"


def test_a_non_null_unknown_key_is_still_0053(api):
    before = snapshot()
    for body, field in [
        ({"name": "Gold", "settings": {}}, "settings"),
        ({"name": "Gold", "skip": False}, "skip"),
        ({"name": "Gold", "holderId": GOOD_ID}, "holderId"),
    ]:
        path = f"{api['org']}/ledgers" if field == "settings" else f"{api['base']}/accounts"
        if field != "settings":
            body = {"type": "deposit", "assetCode": "BRL", **body}
        response = api["client"].post(path, body, format="json")
        assert field in assert_problem(response, 400, "0053", api["client"])["fields"]
    assert snapshot() == before


def test_null_for_an_implemented_field_keeps_its_meaning(api):
    account = api["account"]
    account.segment = api["segment"]
    account.save()
    cleared = api["client"].patch(
        f"{api['base']}/accounts/{account.pk}", {"segmentId": None}, format="json"
    )
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["segmentId"] is None
    before = snapshot()
    required = api["client"].post(f"{api['base']}/segments", {"name": None}, format="json")
    assert "name" in assert_problem(required, 400, "0009", api["client"])["fields"]
    read_only = api["client"].post(
        f"{api['base']}/segments", {"name": "Gold", "id": GOOD_ID}, format="json"
    )
    assert "id" in assert_problem(read_only, 400, "0053", api["client"])["fields"]
    assert snapshot() == before


def test_null_for_a_read_only_or_fixed_field_is_ignored_as_midaz_does(api):
    """Midaz never counts a key whose value is null as unexpected: a null ``id`` or
    ``createdAt`` on create, or a null ``type`` (fixed after create) on update, asks
    nothing; the same keys with a value are still refused (0053)."""
    created = api["client"].post(
        f"{api['base']}/segments",
        {"name": "Nulls", "id": None, "createdAt": None, "accountCount": None},
        format="json",
    )
    assert created.status_code == 201, created.content
    account = api["account"]
    patched = api["client"].patch(
        f"{api['base']}/accounts/{account.pk}",
        {"name": "Renamed", "type": None, "assetCode": None, "id": None},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["type"], patched.json()["assetCode"]) == (
        account.type,
        account.asset_code,
    )
    before = snapshot()
    fixed = api["client"].patch(
        f"{api['base']}/accounts/{account.pk}", {"type": "savings"}, format="json"
    )
    assert "type" in assert_problem(fixed, 400, "0053", api["client"])["fields"]
    assert snapshot() == before
