"""Benefits through the API (issue #13): CRUD under both segment paths, versions and
``?at=``, the effective benefits of an account and a portfolio, the resolve endpoint, and
every bad input answered with a problem document that changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments.models import Account, Benefit, BenefitVersion, Portfolio, Role, SegmentHistory
from tests.factories import (
    AccountFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

CASHBACK = {"kind": "cashback", "parameters": {"percentage": "2.5", "assetCode": "BRL"}}
LOUNGE = {"kind": "service", "parameters": {"serviceCode": "vip-lounge"}}


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(tenant):
    ledger = tenant["ledger"]
    segment = SegmentFactory(ledger=ledger, name="Black")
    org_segment = SegmentFactory(ledger=None, organization=ledger.organization, name="Group")
    return tenant | {
        "segment": segment,
        "org_segment": org_segment,
        "benefits": f"{tenant['ledger_url']}/segments/{segment.pk}/benefits",
        "org_benefits": f"{tenant['organization_url']}/segments/{org_segment.pk}/benefits",
    }


def create(world, body, url=None):
    response = world["api"].post(url or world["benefits"], body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    problem = response.json()
    assert problem["code"] == code
    return problem


def test_create_get_list_count_update_and_delete_a_benefit(world):
    body = create(world, {"name": "Cashback", "description": "On education", **CASHBACK})
    assert body["kind"] == "cashback"
    assert body["parameters"] == {"percentage": "2.5", "assetCode": "BRL"}
    assert (body["version"], body["priority"], body["exclusivityGroup"]) == (1, 100, None)
    assert body["segmentId"] == str(world["segment"].pk)
    assert body["ledgerId"] == str(world["ledger"].pk)
    url = f"{world['benefits']}/{body['id']}"
    fetched = world["api"].get(url)
    assert fetched.status_code == 200 and fetched["ETag"]
    listed = world["api"].get(world["benefits"])
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert listed["X-Total-Count"] == "1"
    count = world["api"].head(f"{world['benefits']}/metrics/count?kind=cashback")
    assert (count.status_code, count["X-Total-Count"]) == (204, "1")
    changed = world["api"].patch(
        url, {"parameters": {"percentage": "3", "assetCode": "BRL"}}, format="json"
    )
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    renamed = world["api"].patch(url, {"name": "Education cashback"}, format="json")
    assert renamed.json()["version"] == 2, "a name is not a versioned field"
    assert world["api"].delete(url).status_code == 403, "an operator does not delete"
    assert world["admin"].delete(url).status_code == 204
    assert world["api"].get(url).status_code == 404
    actions = list(
        SegmentHistory.objects.filter(segment=world["segment"]).values_list("action", flat=True)
    )
    assert actions.count("benefit_updated") == 2
    assert {"benefit_created", "benefit_deleted"} <= set(actions)


def test_organization_level_segments_have_benefits_too(world):
    body = create(world, {"name": "Concierge", **LOUNGE}, url=world["org_benefits"])
    assert body["ledgerId"] is None
    assert world["api"].get(f"{world['org_benefits']}/{body['id']}").status_code == 200
    # Not reachable through a ledger segment's path.
    assert world["api"].get(f"{world['benefits']}/{body['id']}").status_code == 404


def test_versions_and_the_state_at_an_instant(world):
    body = create(world, {"name": "Cashback", **CASHBACK})
    url = f"{world['benefits']}/{body['id']}"
    before_change = dt.datetime.now(dt.UTC)
    world["api"].patch(url, {"parameters": {"percentage": "5", "assetCode": "BRL"}}, format="json")
    old = world["api"].get(url, {"at": iso(before_change)})
    assert old.status_code == 200
    assert (old.json()["parameters"]["percentage"], old.json()["version"]) == ("2.5", 1)
    assert world["api"].get(url).json()["parameters"]["percentage"] == "5"
    versions = world["api"].get(f"{url}/versions").json()
    assert [item["version"] for item in versions["items"]] == [2, 1]
    assert versions["items"][0]["actor"] == "operator"
    too_early = world["api"].get(url, {"at": "2000-01-01T00:00:00Z"})
    assert_problem(too_early, 404, "0007")
    assert_problem(world["api"].get(url, {"at": "yesterday"}), 400, "0082")


def test_an_account_gets_its_segments_benefits_with_reasons_for_the_others(world):
    now = dt.datetime.now(dt.UTC)
    account = AccountFactory(ledger=world["ledger"], segment=world["segment"])
    lounge = create(world, {"name": "Lounge", **LOUNGE})
    expired = create(
        world, {"name": "Launch", **CASHBACK, "validUntil": iso(now - dt.timedelta(days=1))}
    )
    future = create(
        world,
        {"name": "Next year", **LOUNGE, "validFrom": iso(now + dt.timedelta(days=365))},
    )
    paused = create(world, {"name": "Paused", **LOUNGE, "status": {"code": "INACTIVE"}})
    winner = create(
        world, {"name": "Gold rate", **CASHBACK, "exclusivityGroup": "rate", "priority": 1}
    )
    loser = create(
        world, {"name": "Silver rate", **CASHBACK, "exclusivityGroup": "rate", "priority": 2}
    )
    answer = world["api"].get(f"{world['ledger_url']}/accounts/{account.pk}/benefits")
    assert answer.status_code == 200
    body = answer.json()
    assert body["accountId"] == str(account.pk)
    assert body["segment"] == {
        "id": str(world["segment"].pk),
        "name": "Black",
        "level": "ledger",
        "resolvedVia": "account",
        "assignedBy": "manual",
    }
    assert {item["id"] for item in body["items"]} == {lounge["id"], winner["id"]}
    reasons = {item["id"]: item["reason"] for item in body["notApplied"]}
    assert reasons == {
        expired["id"]: "expired",
        future["id"]: "notYetValid",
        paused["id"]: "inactive",
        loser["id"]: f"outrankedBy:{winner['id']}",
    }
    only_services = world["api"].get(
        f"{world['ledger_url']}/accounts/{account.pk}/benefits", {"kind": "service"}
    )
    assert {item["id"] for item in only_services.json()["items"]} == {lounge["id"]}


def test_kind_narrows_the_answer_not_the_choice(world):
    """A benefit of another kind that wins the group still outranks the one asked for."""
    account = AccountFactory(ledger=world["ledger"], segment=world["segment"])
    cashback = create(
        world, {"name": "Cashback", **CASHBACK, "exclusivityGroup": "perk", "priority": 1}
    )
    lounge = create(world, {"name": "Lounge", **LOUNGE, "exclusivityGroup": "perk", "priority": 2})
    url = f"{world['ledger_url']}/accounts/{account.pk}/benefits"
    body = world["api"].get(url, {"kind": "service"}).json()
    assert body["items"] == []
    assert [(m["id"], m["reason"]) for m in body["notApplied"]] == [
        (lounge["id"], f"outrankedBy:{cashback['id']}")
    ]


def test_an_account_without_a_segment_gets_its_portfolios_benefits(world):
    portfolio = PortfolioFactory(ledger=world["ledger"], segment=world["segment"])
    account = AccountFactory(ledger=world["ledger"], portfolio=portfolio)
    lounge = create(world, {"name": "Lounge", **LOUNGE})
    body = world["api"].get(f"{world['ledger_url']}/accounts/{account.pk}/benefits").json()
    assert body["segment"]["resolvedVia"] == "portfolio"
    assert [item["id"] for item in body["items"]] == [lounge["id"]]
    of_portfolio = world["api"].get(f"{world['ledger_url']}/portfolios/{portfolio.pk}/benefits")
    assert of_portfolio.json()["portfolioId"] == str(portfolio.pk)
    assert [item["id"] for item in of_portfolio.json()["items"]] == [lounge["id"]]
    alone = AccountFactory(ledger=world["ledger"])
    empty = world["api"].get(f"{world['ledger_url']}/accounts/{alone.pk}/benefits").json()
    assert (empty["segment"], empty["items"], empty["notApplied"]) == (None, [], [])


def test_assigned_by_says_rule_for_a_rule_member_in_every_answer(world):
    """A member a rule placed (its own or its portfolio's) is ``assignedBy: rule``."""
    lounge = create(world, {"name": "Lounge", **LOUNGE})
    by_rule = AccountFactory(ledger=world["ledger"], segment=world["segment"])
    portfolio = PortfolioFactory(ledger=world["ledger"], segment=world["segment"])
    through = AccountFactory(ledger=world["ledger"], portfolio=portfolio)
    Account.objects.filter(pk=by_rule.pk).update(segment_assigned_by="rule")
    Portfolio.objects.filter(pk=portfolio.pk).update(segment_assigned_by="rule")
    pinned = AccountFactory(ledger=world["ledger"], segment=world["segment"])
    Account.objects.filter(pk=pinned.pk).update(segment_assigned_by="manual")
    base = f"{world['ledger_url']}/accounts"
    for account, expected in ((by_rule, "rule"), (through, "rule"), (pinned, "manual")):
        one = world["api"].get(f"{base}/{account.pk}/benefits").json()
        assert one["segment"]["assignedBy"] == expected
        assert [item["id"] for item in one["items"]] == [lounge["id"]]
    ids = [str(account.pk) for account in (by_rule, through, pinned)]
    resolved = world["api"].post(f"{base}/benefits/resolve", {"accountIds": ids}, format="json")
    assert [item["segment"]["assignedBy"] for item in resolved.json()["items"]] == [
        "rule",
        "rule",
        "manual",
    ]


def test_resolve_answers_many_accounts_in_constant_queries(world):
    create(world, {"name": "Lounge", **LOUNGE})
    create(world, {"name": "Cashback", **CASHBACK, "exclusivityGroup": "cash"})
    other = SegmentFactory(ledger=world["ledger"], name="Student")
    accounts = AccountFactory.create_batch(30, ledger=world["ledger"], segment=world["segment"])
    accounts += AccountFactory.create_batch(30, ledger=world["ledger"], segment=other)
    ids = [str(account.pk) for account in accounts]
    missing = "0191f7e2-0000-7000-8000-000000000000"
    url = f"{world['ledger_url']}/accounts/benefits/resolve"
    with CaptureQueriesContext(connection) as few:
        small = world["api"].post(url, {"accountIds": ids[:2]}, format="json")
    with CaptureQueriesContext(connection) as many:
        answer = world["api"].post(url, {"accountIds": [*ids, missing]}, format="json")
    assert small.status_code == answer.status_code == 200
    assert len(many) == len(few) <= 4, [query["sql"] for query in many]
    body = answer.json()
    assert [item["accountId"] for item in body["items"]] == ids
    assert body["notFound"] == [missing]
    assert len(body["items"][0]["items"]) == 2 and body["items"][-1]["items"] == []


def test_the_effective_benefits_of_an_account_take_constant_queries(world):
    account = AccountFactory(ledger=world["ledger"], segment=world["segment"])
    url = f"{world['ledger_url']}/accounts/{account.pk}/benefits"
    create(world, {"name": "Lounge", **LOUNGE})
    with CaptureQueriesContext(connection) as one:
        world["api"].get(url)
    for number in range(10):
        create(world, {"name": f"Benefit {number}", **LOUNGE})
    with CaptureQueriesContext(connection) as eleven:
        world["api"].get(url)
    assert len(eleven) == len(one) <= 4


@pytest.mark.parametrize(
    ("body", "status", "code", "location"),
    [
        ({"name": "X", "kind": "teleport"}, 400, "0047", "kind"),
        ({"name": "X", "kind": "cashback", "parameters": {"serviceCode": "a"}}, 400, "0053", None),
        (
            {
                "name": "X",
                "kind": "cashback",
                "parameters": {"percentage": 2.5, "assetCode": "BRL"},
            },
            400,
            "0047",
            "parameters.percentage",
        ),
        (
            {
                "name": "X",
                "kind": "cashback",
                "parameters": {"percentage": "0", "assetCode": "BRL"},
            },
            400,
            "0047",
            "parameters.percentage",
        ),
        (
            {
                "name": "X",
                "kind": "cashback",
                "parameters": {"percentage": "101", "assetCode": "BRL"},
            },
            400,
            "0047",
            "parameters.percentage",
        ),
        (
            {
                "name": "X",
                "kind": "cashback",
                "parameters": {"percentage": "abc", "assetCode": "BRL"},
            },
            400,
            "0047",
            "parameters.percentage",
        ),
        (
            {
                "name": "X",
                **LOUNGE,
                "validFrom": "2026-12-01T00:00:00Z",
                "validUntil": "2026-11-01T00:00:00Z",
            },
            400,
            "0047",
            "validUntil",
        ),
        ({"name": "X", **LOUNGE, "validFrom": "soon"}, 400, "0047", "validFrom"),
        ({"name": "X", **LOUNGE, "priority": -1}, 400, "0047", "priority"),
        ({"kind": "service"}, 400, "0009", "name"),
    ],
)
def test_bad_benefits_are_refused_and_change_nothing(world, body, status, code, location):
    problem = assert_problem(
        world["api"].post(world["benefits"], body, format="json"), status, code
    )
    if location:
        assert location in {entry["location"] for entry in problem["errors"]}, problem
    else:
        assert problem["errors"][0]["location"] == "parameters.serviceCode"
    assert not Benefit.all_objects.exists() and not BenefitVersion.objects.exists()


def test_names_are_unique_per_segment_and_ambiguity_is_refused(world):
    create(world, {"name": "Lounge", **LOUNGE, "exclusivityGroup": "travel"})
    assert_problem(
        world["api"].post(world["benefits"], {"name": "LOUNGE", **LOUNGE}, format="json"),
        409,
        "9013",
    )
    first = Benefit.objects.get()
    ambiguous = world["api"].post(
        world["benefits"],
        {"name": "Insurance", **LOUNGE, "exclusivityGroup": "travel"},
        format="json",
    )
    problem = assert_problem(ambiguous, 409, "9012")
    assert str(first.pk) in problem["detail"]
    # Another priority, or a window that does not overlap, is not ambiguous.
    create(world, {"name": "Insurance", **LOUNGE, "exclusivityGroup": "travel", "priority": 5})
    assert Benefit.objects.count() == 2


def test_bad_requests_on_existing_benefits(world, client_for):
    body = create(world, {"name": "Lounge", **LOUNGE})
    url = f"{world['benefits']}/{body['id']}"
    assert_problem(
        world["api"].patch(url, {"name": "Other"}, format="json", HTTP_IF_MATCH='"stale"'),
        412,
        "9006",
    )
    assert world["admin"].delete(url).status_code == 204
    assert_problem(world["api"].patch(url, {"name": "Again"}, format="json"), 404, "0007")
    stranger = UserFactory(username="stranger")
    member(stranger, OrganizationFactory(), Role.ADMIN)
    foreign = client_for(stranger).post(
        world["benefits"], {"name": "Mine", **LOUNGE}, format="json"
    )
    assert_problem(foreign, 404, "0007")
    resolve = f"{world['ledger_url']}/accounts/benefits/resolve"
    too_many = ["0191f7e2-0000-7000-8000-000000000000"] * 1001
    assert world["api"].post(resolve, {"accountIds": too_many}, format="json").status_code == 400
    assert_problem(world["api"].post(resolve, {"accountIds": ["nope"]}, format="json"), 400, "0047")


def test_deleting_a_segment_deletes_its_benefits_and_says_so(world):
    create(world, {"name": "Lounge", **LOUNGE})
    AccountFactory(ledger=world["ledger"], segment=world["segment"])
    segment_url = f"{world['ledger_url']}/segments/{world['segment'].pk}"
    refused = assert_problem(world["admin"].delete(segment_url), 409, "9001")
    assert "1 benefit(s)" in refused["detail"]
    assert world["admin"].delete(f"{segment_url}?detach=true").status_code == 204
    assert not Benefit.objects.exists() and Benefit.all_objects.count() == 1
