"""Previews and explanations of rules through the API (issue #14, item 5):
``POST OL/segments/rules/preview`` (ledger and organization paths), its job at
``rules/previews/{id}`` when it runs past ``SEGMENTS_PREVIEW_TIMEOUT_MS``, and ``GET
OL/accounts/{id}/segment-explanation``.

The counts are checked against a hand-built world: accounts pinned by hand (and one
assigned before rules existed), stale rule members of the segment, other segments' rules
that overlap with lower and higher priorities, an organization-level rule covering every
ledger, another ledger's rule, an INACTIVE segment's rule, portfolios, a deleted account,
and the typing trap (``metadata.score > 700`` against ``true`` and ``"900"``)."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from segments.models import (
    Account,
    AssignedBy,
    Portfolio,
    Role,
    SegmentRule,
    Status,
)
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

TIER_OR_SCORE = 'metadata.tier == "black" || metadata.score > 700'
BLACK = 'metadata.tier == "black"'


def rule(segment, expression: str, priority: int, subject: str = "account") -> SegmentRule:
    """A stored rule, written directly (the world is built by hand, no refresh runs)."""
    return SegmentRule.objects.create(
        segment=segment,
        organization_id=segment.organization_id,
        ledger_id=segment.ledger_id,
        expression=expression,
        subject=subject,
        priority=priority,
        actor_name="test",
    )


def account(ledger, metadata=None, segment=None, by=None, **fields) -> Account:
    return AccountFactory(
        ledger=ledger, metadata=metadata or {}, segment=segment, segment_assigned_by=by, **fields
    )


@pytest.fixture
def world(tenant, client_for):
    """Ledger L (the tenant's) and L2 of one organization, their segments and rules:

    - Gold (L, 5) ``tier == "gold"``; Black (L, 10) ``tier == "black" && !blocked``, the
      segment previewed; Group (organization, 20) ``score > 700``; Other (L2, 3)
      ``tier == "black"``; Dormant (L, INACTIVE, 1) ``tier == "black"``: never competes;
      Students (L, 30) a portfolio rule.
    """
    ledger = tenant["ledger"]
    organization = ledger.organization
    other_ledger = LedgerFactory(organization=organization)
    gold = SegmentFactory(ledger=ledger, name="Gold")
    black = SegmentFactory(ledger=ledger, name="Black")
    group = SegmentFactory(ledger=None, organization=organization, name="Group")
    other = SegmentFactory(ledger=other_ledger, name="Other")
    dormant = SegmentFactory(ledger=ledger, name="Dormant", status_code=Status.INACTIVE)
    students = SegmentFactory(ledger=ledger, name="Students")
    rule(gold, 'metadata.tier == "gold"', 5)
    rule(black, 'metadata.tier == "black" && !blocked', 10)
    rule(group, "metadata.score > 700", 20)
    rule(other, BLACK, 3)
    rule(dormant, BLACK, 1)
    rule(students, 'metadata.program == "student"', 30, subject="portfolio")
    viewer = UserFactory(username="viewer")
    member(viewer, organization, Role.VIEWER)
    accounts = {
        # free, matched, won: added
        "a1": account(ledger, {"tier": "black"}),
        # free, matched by Group too (20 > 10): added, an overlap with Group
        "a2": account(ledger, {"tier": "black", "score": 800}),
        # a stale rule member of Black that Gold (5) takes: removed, overlaps Gold and Group
        "a3": account(ledger, {"tier": "gold", "score": 900}, black, AssignedBy.RULE),
        # pinned by hand to Gold
        "a4": account(ledger, {"tier": "black"}, gold, AssignedBy.MANUAL),
        # already Black's by its rule: neither added nor removed
        "a5": account(ledger, {"tier": "black"}, black, AssignedBy.RULE),
        # a stale rule member that no longer matches: removed
        "a6": account(ledger, {"tier": "silver"}, black, AssignedBy.RULE),
        # the trap: neither is a number above 700
        "a7": account(ledger, {"score": True}),
        "a8": account(ledger, {"score": "900"}),
        # deleted: counts nowhere
        "a9": account(ledger, {"tier": "black"}, deleted_at=timezone.now()),
        # in Gold since before rules (no segmentAssignedBy): not movable
        "a10": account(ledger, {"tier": "black"}, gold, None),
        # the other ledger's
        "b1": account(other_ledger, {"tier": "black"}),
    }
    return tenant | {
        "organization": organization,
        "other_ledger": other_ledger,
        "gold": gold,
        "black": black,
        "group": group,
        "other": other,
        "students": students,
        "accounts": accounts,
        "viewer": client_for(viewer),
        "ledger_preview": f"{tenant['ledger_url']}/segments/rules/preview",
        "organization_preview": f"{tenant['organization_url']}/segments/rules/preview",
    }


def preview(world, body, path="ledger_preview", client=None) -> dict:
    response = (client or world["api"]).post(world[path], body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def ids(world, *names) -> list[str]:
    return sorted((str(world["accounts"][name].pk) for name in names), key=uuid.UUID)


def conflict(segment, priority: int, overlap: int) -> dict:
    return {
        "segmentId": str(segment.pk),
        "name": segment.name,
        "priority": priority,
        "overlapCount": overlap,
    }


def counts(body) -> dict:
    return {key: body[key] for key in ("matchCount", "wouldAdd", "wouldRemove", "pinnedExcluded")}


# --------------------------------------------------------------------------- the counts


def test_a_segments_preview_counts_exactly_what_saving_its_rule_would_do(world):
    body = preview(
        world,
        {
            "expression": TIER_OR_SCORE,
            "subject": "account",
            "segmentId": str(world["black"].pk),
            "priority": 10,
        },
    )
    assert counts(body) == {"matchCount": 6, "wouldAdd": 2, "wouldRemove": 2, "pinnedExcluded": 2}
    assert body["conflicts"] == [conflict(world["gold"], 5, 1), conflict(world["group"], 20, 2)]
    assert [item["id"] for item in body["sample"]] == ids(
        world, "a1", "a2", "a3", "a4", "a5", "a10"
    )
    names = {item["id"]: item["name"] for item in body["sample"]}
    assert names[str(world["accounts"]["a1"].pk)] == world["accounts"]["a1"].name
    assert body["timeDependent"] is False
    assert isinstance(body["elapsedMs"], int) and body["elapsedMs"] >= 0


def test_without_a_priority_the_segments_own_priority_decides(world):
    body = preview(
        world,
        {"expression": TIER_OR_SCORE, "subject": "account", "segmentId": str(world["black"].pk)},
    )
    assert counts(body) == {"matchCount": 6, "wouldAdd": 2, "wouldRemove": 2, "pinnedExcluded": 2}


def test_a_lower_priority_number_takes_what_the_others_match(world):
    body = preview(
        world,
        {
            "expression": TIER_OR_SCORE,
            "subject": "account",
            "segmentId": str(world["black"].pk),
            "priority": 4,  # before Gold (5): a3 stays
        },
    )
    assert counts(body) == {"matchCount": 6, "wouldAdd": 2, "wouldRemove": 1, "pinnedExcluded": 2}
    # Without the segment, Black's own rule (10) competes: after it, nothing is left.
    later = preview(world, {"expression": TIER_OR_SCORE, "subject": "account", "priority": 25})
    assert (later["matchCount"], later["wouldAdd"]) == (6, 0)


def test_without_a_segment_would_add_is_every_movable_match(world):
    body = preview(world, {"expression": TIER_OR_SCORE, "subject": "account"})
    assert counts(body) == {"matchCount": 6, "wouldAdd": 4, "wouldRemove": 0, "pinnedExcluded": 2}
    assert body["conflicts"] == [
        conflict(world["gold"], 5, 1),
        conflict(world["black"], 10, 3),  # Black's rule competes when it is not the one asked
        conflict(world["group"], 20, 2),
    ]
    ranked = preview(world, {"expression": TIER_OR_SCORE, "subject": "account", "priority": 10})
    assert ranked["wouldAdd"] == 3  # Gold (5) takes a3


def test_the_organization_path_covers_every_ledger_and_each_ledgers_rule_only_its_own(world):
    segment = SegmentFactory(ledger=None, organization=world["organization"], name="All Black")
    body = preview(
        world,
        {"expression": BLACK, "subject": "account", "segmentId": str(segment.pk), "priority": 4},
        path="organization_preview",
    )
    # a1, a2, a4, a5, a10 of L and b1 of L2; Other (3, L2 only) takes b1.
    assert counts(body) == {"matchCount": 6, "wouldAdd": 3, "wouldRemove": 0, "pinnedExcluded": 2}
    assert body["conflicts"] == [
        conflict(world["other"], 3, 1),
        conflict(world["black"], 10, 3),
        conflict(world["group"], 20, 1),
    ]
    assert str(world["accounts"]["b1"].pk) in {item["id"] for item in body["sample"]}
    on_the_ledger = preview(world, {"expression": BLACK, "subject": "account", "priority": 4})
    assert on_the_ledger["matchCount"] == 5 and on_the_ledger["wouldAdd"] == 3
    assert on_the_ledger["conflicts"] == [
        conflict(world["black"], 10, 3),
        conflict(world["group"], 20, 1),
    ]


def test_a_segment_of_another_level_or_unknown_is_0036(world):
    for path, segment_id in (
        ("organization_preview", world["black"].pk),  # a ledger's segment
        ("ledger_preview", world["group"].pk),  # the organization's
        ("ledger_preview", uuid.uuid4()),
    ):
        response = world["api"].post(
            world[path],
            {"expression": BLACK, "subject": "account", "segmentId": str(segment_id)},
            format="json",
        )
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "0036"


def test_a_portfolio_rule_counts_portfolios(world):
    ledger = world["ledger"]
    PortfolioFactory(ledger=ledger, metadata={"program": "student"})
    PortfolioFactory(
        ledger=ledger,
        metadata={"program": "student"},
        segment=world["gold"],
        segment_assigned_by=AssignedBy.MANUAL,
    )
    PortfolioFactory(ledger=ledger, metadata={"program": "alumni"})
    PortfolioFactory(ledger=world["other_ledger"], metadata={"program": "student"})
    body = preview(world, {"expression": 'metadata.program == "student"', "subject": "portfolio"})
    assert counts(body) == {"matchCount": 2, "wouldAdd": 1, "wouldRemove": 0, "pinnedExcluded": 1}
    assert body["conflicts"] == [conflict(world["students"], 30, 1)]
    assert len(body["sample"]) == 2
    assert Portfolio.objects.filter(pk__in=[item["id"] for item in body["sample"]]).count() == 2


def test_a_rule_reading_the_portfolio_keeps_the_accounts_without_one(world):
    portfolio = PortfolioFactory(ledger=world["ledger"], metadata={"program": "student"})
    student = account(world["ledger"], portfolio=portfolio)
    body = preview(
        world,
        {"expression": f'portfolio.metadata.program == "student" || {BLACK}', "subject": "account"},
    )
    assert body["matchCount"] == 6  # a1, a2, a4, a5, a10 have no portfolio
    assert str(student.pk) in {item["id"] for item in body["sample"]}


def test_the_typing_trap_a_bool_or_a_text_score_is_not_above_700(world):
    body = preview(world, {"expression": "metadata.score > 700", "subject": "account"})
    assert body["matchCount"] == 2
    assert [item["id"] for item in body["sample"]] == ids(world, "a2", "a3")


def test_the_sample_holds_at_most_20_and_the_counts_stay_exact(world):
    Account.objects.bulk_create(
        Account(
            organization=world["organization"],
            ledger=world["ledger"],
            type="deposit",
            asset_code="BRL",
            name=f"Bulk {n}",
            metadata={"tier": "platinum"},
        )
        for n in range(25)
    )
    body = preview(world, {"expression": 'metadata.tier == "platinum"', "subject": "account"})
    assert body["matchCount"] == 25 and body["wouldAdd"] == 25
    assert len(body["sample"]) == 20


def test_a_time_dependent_rule_says_so(world):
    body = preview(world, {"expression": 'createdAt > now - duration("1h")', "subject": "account"})
    assert body["timeDependent"] is True
    assert body["matchCount"] == 9  # every live account of L


def test_a_viewer_may_preview_and_it_writes_nothing(world):
    before = list(Account.all_objects.order_by("pk").values_list("pk", "segment_id"))
    body = preview(world, {"expression": BLACK, "subject": "account"}, client=world["viewer"])
    assert body["matchCount"] == 5
    assert list(Account.all_objects.order_by("pk").values_list("pk", "segment_id")) == before


# --------------------------------------------------------------------------- refusals


BAD_RULES = [
    'type == "x"; DROP TABLE',
    'name.matches("a.*")',
    "size(name) > 1",
    "nickname == 1",
    'createdAt == "x"',
    "metadata.score >",
]


@pytest.mark.parametrize("expression", BAD_RULES)
def test_a_bad_rule_is_0047_with_its_position_and_runs_no_sql_on_the_members(world, expression):
    with CaptureQueriesContext(connection) as queries:
        response = world["api"].post(
            world["ledger_preview"],
            {"expression": expression, "subject": "account", "segmentId": str(world["black"].pk)},
            format="json",
        )
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "0047"
    assert "line 1, column" in problem["message"]
    tables = [f'"{model._meta.db_table}"' for model in (Account, Portfolio, SegmentRule)]
    touched = [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in tables)]
    assert touched == []


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "account"},
        {"expression": BLACK},
        {"expression": BLACK, "subject": "ledger"},
        {"expression": BLACK, "subject": "account", "priority": -1},
        {"expression": BLACK, "subject": "account", "priority": "1"},
        {"expression": BLACK, "subject": "account", "segmentId": "nope"},
        {"expression": BLACK, "subject": "account", "extra": 1},
        [],
    ],
)
def test_bad_bodies_are_400(world, body):
    response = world["api"].post(world["ledger_preview"], body, format="json")
    assert response.status_code == 400, response.content


def test_another_organizations_paths_are_404(world, client_for):
    stranger = UserFactory(username="stranger")
    member(stranger, OrganizationFactory(), Role.ADMIN)
    api = client_for(stranger)
    body = {"expression": BLACK, "subject": "account"}
    for path in ("ledger_preview", "organization_preview"):
        response = api.post(world[path], body, format="json")
        assert response.status_code == 404 and response.json()["code"] == "0007"
    explanation = api.get(explanation_url(world, world["accounts"]["a1"]))
    assert explanation.status_code == 404 and explanation.json()["code"] == "0007"
    job = api.get(f"{world['ledger_url']}/segments/rules/previews/{uuid.uuid4()}")
    assert job.status_code == 404


def test_a_preview_id_that_is_not_a_uuid_is_0065_and_an_unknown_one_404(world):
    base = f"{world['ledger_url']}/segments/rules/previews"
    assert world["api"].get(f"{base}/nope").json()["code"] == "0065"
    assert world["api"].get(f"{base}/{uuid.uuid4()}").json()["code"] == "0007"


# --------------------------------------------------------------------------- query counts


def _preview_queries(world, extra_rules: int) -> int:
    for n in range(extra_rules):
        segment = SegmentFactory(ledger=world["ledger"], name=f"Extra {n}")
        rule(segment, f'metadata.tier == "t{n}" || metadata.score > {n}', 100 + n)
    body = {"expression": TIER_OR_SCORE, "subject": "account", "segmentId": str(world["black"].pk)}
    with CaptureQueriesContext(connection) as queries:
        preview(world, body)
    table = f'"{Account._meta.db_table}"'
    on_members = [q for q in queries.captured_queries if table in q["sql"]]
    assert len(on_members) == 2  # the aggregate and the sample
    return len(queries.captured_queries)


def test_a_preview_costs_the_same_queries_whatever_the_number_of_rules(world):
    preview(world, {"expression": BLACK, "subject": "account"})  # the token's first use
    assert _preview_queries(world, 0) == _preview_queries(world, 6)


# --------------------------------------------------------------------------- the explanation


def explanation_url(world, an_account) -> str:
    return f"{world['ledger_url']}/accounts/{an_account.pk}/segment-explanation"


def explain(world, name: str, client=None) -> dict:
    response = (client or world["api"]).get(explanation_url(world, world["accounts"][name]))
    assert response.status_code == 200, response.content
    return response.json()


def by_name(body) -> dict[str, dict]:
    return {candidate["name"]: candidate for candidate in body["candidates"]}


def test_the_explanation_lists_every_rule_of_the_scope_with_its_clauses(world):
    body = explain(world, "a2", client=world["viewer"])
    assert body["accountId"] == str(world["accounts"]["a2"].pk)
    assert (body["segmentId"], body["segmentAssignedBy"], body["pinned"]) == (None, None, False)
    assert [c["name"] for c in body["candidates"]] == ["Gold", "Black", "Group"]
    assert [c["priority"] for c in body["candidates"]] == [5, 10, 20]
    candidates = by_name(body)
    assert candidates["Gold"] == {
        "segmentId": str(world["gold"].pk),
        "name": "Gold",
        "priority": 5,
        "matched": False,
        "clauses": [{"text": 'metadata.tier == "gold"', "value": False}],
    }
    assert candidates["Black"]["matched"] is True and "lostTo" not in candidates["Black"]
    assert candidates["Black"]["clauses"] == [
        {"text": 'metadata.tier == "black"', "value": True},
        {"text": "!blocked", "value": True},
    ]
    assert candidates["Group"]["matched"] is True
    assert candidates["Group"]["lostTo"] == str(world["black"].pk)


def test_a_lower_number_wins_and_the_others_say_so(world):
    candidates = by_name(explain(world, "a3"))
    assert candidates["Gold"]["matched"] is True and "lostTo" not in candidates["Gold"]
    assert candidates["Black"]["matched"] is False
    assert candidates["Black"]["clauses"][0] == {"text": 'metadata.tier == "black"', "value": False}
    assert candidates["Group"]["lostTo"] == str(world["gold"].pk)


def test_a_pinned_account_says_so_and_errors_are_null(world):
    body = explain(world, "a4")
    assert (body["segmentId"], body["segmentAssignedBy"], body["pinned"]) == (
        str(world["gold"].pk),
        "manual",
        True,
    )
    candidates = by_name(body)
    assert candidates["Black"]["matched"] is True
    assert candidates["Black"]["lostTo"] == str(world["gold"].pk)
    assert candidates["Group"]["matched"] is False
    assert candidates["Group"]["clauses"] == [{"text": "metadata.score > 700", "value": None}]


def test_the_trap_in_the_explanation(world):
    for name in ("a7", "a8"):
        group = by_name(explain(world, name))["Group"]
        assert group["matched"] is False
        assert group["clauses"] == [{"text": "metadata.score > 700", "value": None}]


def test_another_ledgers_account_sees_its_ledgers_rules_and_the_organizations(world):
    b1 = world["accounts"]["b1"]
    url = (
        f"{world['organization_url']}/ledgers/{world['other_ledger'].pk}"
        f"/accounts/{b1.pk}/segment-explanation"
    )
    body = world["api"].get(url).json()
    assert [(c["name"], c["matched"]) for c in body["candidates"]] == [
        ("Other", True),
        ("Group", False),
    ]


def _explanation_queries(world, extra_rules: int) -> int:
    for n in range(extra_rules):
        segment = SegmentFactory(ledger=world["ledger"], name=f"More {n}")
        rule(segment, f'metadata.tier == "m{n}" && has(metadata.score)', 200 + n)
    with CaptureQueriesContext(connection) as queries:
        body = explain(world, "a2")
    assert len(body["candidates"]) == 3 + extra_rules
    table = f'"{SegmentRule._meta.db_table}"'
    assert len([q for q in queries.captured_queries if table in q["sql"]]) == 1
    return len(queries.captured_queries)


def test_the_explanation_costs_the_same_queries_whatever_the_number_of_rules(world):
    explain(world, "a1")  # the token's first use
    assert _explanation_queries(world, 0) == _explanation_queries(world, 6)


# --------------------------------------------------------------------------- past the time


@pytest.fixture
def members_locked():
    """``lock()`` holds an ACCESS EXCLUSIVE lock on the accounts table from another
    connection (so that any statement reading it waits, honestly, past its timeout) until
    ``release()``."""
    other = connections.create_connection("default")
    held = {"on": False}

    def lock() -> None:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Account._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        held["on"] = True

    def release() -> None:
        if held["on"]:
            other.rollback()
            other.set_autocommit(True)
            held["on"] = False

    yield lock, release
    release()
    other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_preview_past_its_time_goes_on_as_a_job_and_is_read_back(
    world, settings, members_locked, client_for
):
    lock, release = members_locked
    body = {"expression": TIER_OR_SCORE, "subject": "account", "segmentId": str(world["black"].pk)}
    settings.SEGMENTS_PREVIEW_TIMEOUT_MS = 200
    lock()
    try:
        queued = world["api"].post(world["ledger_preview"], body, format="json")
    finally:
        release()
    assert queued.status_code == 202, queued.content
    job = queued.json()
    assert job["status"] == "queued" and uuid.UUID(job["id"])
    job_url = f"{world['ledger_url']}/segments/rules/previews/{job['id']}"
    waiting = world["viewer"].get(job_url)
    assert waiting.status_code == 200
    assert waiting.json() == {"id": job["id"], "status": "queued", "result": None}
    assert world["api"].get(world["ledger_url"]).status_code == 200  # the timeout is gone

    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)

    done = world["api"].get(job_url).json()
    assert (done["id"], done["status"]) == (job["id"], "done")
    settings.SEGMENTS_PREVIEW_TIMEOUT_MS = 60_000
    direct = preview(world, body)
    result = done["result"]
    assert result.pop("elapsedMs") >= 0 and direct.pop("elapsedMs") >= 0
    assert result == direct
    assert counts(result) == {
        "matchCount": 6,
        "wouldAdd": 2,
        "wouldRemove": 2,
        "pinnedExcluded": 2,
    }
    organization_level = f"{world['organization_url']}/segments/rules/previews/{job['id']}"
    assert world["api"].get(organization_level).status_code == 404
    stranger = UserFactory(username="stranger")
    other_organization = OrganizationFactory()
    member(stranger, other_organization, Role.ADMIN)
    theirs = f"/v1/organizations/{other_organization.pk}/segments/rules/previews/{job['id']}"
    assert client_for(stranger).get(theirs).status_code == 404
