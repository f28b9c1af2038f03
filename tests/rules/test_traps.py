"""The known traps of compiling CEL to SQL, each on explicit rows: on PostgreSQL in the
suite, and on SQLite (``make run``) when the suite runs without ``DATABASE_URL``. Every
case also checks that cel-python's evaluation of the rule chooses the same rows."""

import datetime as dt

import pytest

from segments.models import Account, Portfolio
from segments.rules import evaluate, explain, outside_rule_q, parse_rule, row_values, rule_q

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def create(ledger, **rows: dict) -> None:
    """Accounts by alias, each with the given columns."""
    Account.objects.bulk_create(
        Account(
            organization=ledger.organization,
            ledger=ledger,
            alias=alias,
            **{"type": "deposit", "asset_code": "BRL", **columns},
        )
        for alias, columns in rows.items()
    )


def members(ledger, text: str) -> set[str]:
    """The aliases the rule's SQL chooses, after checking that CEL chooses the same."""
    rule = parse_rule(text, "account")
    accounts = Account.objects.filter(ledger=ledger)
    chosen = set(accounts.filter(rule_q(rule, now=NOW)).values_list("alias", flat=True))
    by_cel = {
        account.alias
        for account in accounts.select_related("portfolio")
        if evaluate(rule, row_values(account), now=NOW)
    }
    assert chosen == by_cel, f"SQL and CEL disagree on {text}"
    return chosen


@pytest.fixture
def scores(ledger):
    create(
        ledger,
        true={"metadata": {"score": True}},
        text900={"metadata": {"score": "900"}},
        n701={"metadata": {"score": 701}},
        n700_5={"metadata": {"score": 700.5}},
        n700={"metadata": {"score": 700}},
        null={"metadata": {"score": None}},
        missing={"metadata": {"other": 1000}},
    )
    return ledger


NUMBERS = {"n701", "n700_5", "n700"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("metadata.score > 700", {"n701", "n700_5"}),
        ("!(metadata.score > 700)", {"n700"}),
        ("700 < metadata.score", {"n701", "n700_5"}),
        ("metadata.score >= 700.5", {"n701", "n700_5"}),
        ("metadata.score == 700", {"n700"}),
        ("metadata.score == 700.0", {"n700"}),
        ("metadata.score != 700", {"n701", "n700_5", "null"}),
        ("!(metadata.score == 700)", {"n701", "n700_5", "null"}),
        ("metadata.score in [700, 701]", {"n700", "n701"}),
        ("!(metadata.score in [700, 701])", {"n700_5", "null"}),
        ("metadata.score in []", set()),
        ("!(metadata.score in [])", {"true", "text900", "null"} | NUMBERS),
        ("metadata.score == true", {"true"}),
        ("metadata.score != true", {"null"}),
        ("metadata.score == null", {"null"}),
        ("metadata.score != null", {"true", "text900"} | NUMBERS),
        ('metadata.score == "900"', {"text900"}),
        ('metadata.score > "800"', {"text900"}),
        ("has(metadata.score)", {"true", "text900", "null"} | NUMBERS),
        ("!has(metadata.score)", {"missing"}),
        ("metadata.score > 700 || true", {"true", "text900", "null", "missing"} | NUMBERS),
        ("metadata.score > 700 && false", set()),
        ("!(metadata.score > 700 && false)", {"true", "text900", "null", "missing"} | NUMBERS),
        ("!(metadata.score > 700 || metadata.score < 0)", {"n700"}),
    ],
)
def test_a_metadata_number_compares_only_with_json_numbers(scores, rule, expected):
    assert members(scores, rule) == expected


@pytest.mark.parametrize(
    "rule", ["metadata.score > 700", "!(metadata.score == 700)", 'metadata.score.contains("9")']
)
def test_the_rows_outside_a_rule_are_all_the_others(scores, rule):
    """The rule's SQL is NULL where a value is missing or of another type, so the rows
    outside it are not its negation."""
    every = set(Account.objects.filter(ledger=scores).values_list("alias", flat=True))
    parsed = parse_rule(rule, "account")
    outside = Account.objects.filter(ledger=scores).filter(outside_rule_q(parsed, now=NOW))
    assert set(outside.values_list("alias", flat=True)) == every - members(scores, rule)


@pytest.mark.postgres
def test_the_plain_lookup_is_the_trap_the_guard_avoids(scores):
    """Django's ``metadata__score__gt`` compares jsonb, where booleans sort above numbers."""
    plain = set(
        Account.objects.filter(ledger=scores, metadata__score__gt=700).values_list(
            "alias", flat=True
        )
    )
    assert "true" in plain
    assert "true" not in members(scores, "metadata.score > 700")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('metadata.tier == "black"', {"black"}),
        ('!(metadata.tier == "black")', {"Black", "null"}),
        ('metadata.tier != "black"', {"Black", "null"}),
        ('metadata.tier in ["black", "gold"]', {"black"}),
        ('metadata.tier.startsWith("b")', {"black"}),
        ('!metadata.tier.startsWith("b")', {"Black"}),
        ('metadata.tier.contains("lack")', {"black", "Black"}),
        ('metadata.tier < "b"', {"Black"}),
    ],
)
def test_a_metadata_string_compares_only_with_json_strings(ledger, rule, expected):
    create(
        ledger,
        list={"metadata": {"tier": ["black"]}},
        black={"metadata": {"tier": "black"}},
        Black={"metadata": {"tier": "Black"}},
        one={"metadata": {"tier": 1}},
        null={"metadata": {"tier": None}},
        none={"metadata": {}},
    )
    assert members(ledger, rule) == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('alias.startsWith("v_p%")', {"v_p%1"}),
        ('alias.endsWith("%1")', {"v_p%1"}),
        ('alias.contains("_")', {"v_p%1", "V_P%2"}),
        ('alias.contains("")', {"v_p%1", "vxp1", "V_P%2", "back\\slash"}),
        ('alias.startsWith("back\\\\")', {"back\\slash"}),
        ('metadata.code.startsWith("a_")', {"v_p%1"}),
        ('!metadata.code.startsWith("a_")', {"vxp1"}),
    ],
)
def test_text_methods_match_literally_and_case_sensitively(ledger, rule, expected):
    create(
        ledger,
        **{
            "v_p%1": {"metadata": {"code": "a_b"}},
            "vxp1": {"metadata": {"code": "axb"}},
            "V_P%2": {"metadata": {"code": 5}},
            "back\\slash": {},
        },
    )
    assert members(ledger, rule) == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('name == "b"', {"b"}),
        ('!(name == "x")', {"no-name", "b", "accent"}),
        ('name != "b"', {"no-name", "accent"}),
        ('name < "m"', {"b"}),
        ('!(name < "m")', {"accent"}),
        ('name > "z"', {"accent"}),
        ("name == null", {"no-name"}),
        ('name in ["b", "x"]', {"b"}),
        ('!(name in ["b"])', {"no-name", "accent"}),
        ('name.startsWith("")', {"b", "accent"}),
    ],
)
def test_a_null_column_differs_from_every_string_and_has_no_order(ledger, rule, expected):
    create(ledger, **{"no-name": {"name": None}, "b": {"name": "b"}, "accent": {"name": "é"}})
    assert members(ledger, rule) == expected


@pytest.fixture
def with_portfolios(ledger):
    student = Portfolio.objects.create(
        organization=ledger.organization, ledger=ledger, name="S", metadata={"program": "student"}
    )
    empty = Portfolio.objects.create(organization=ledger.organization, ledger=ledger, name="E")
    create(
        ledger,
        loose={"metadata": {"university": "USP"}},
        student={"portfolio": student},
        empty={"portfolio": empty},
    )
    return ledger, student


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('portfolio.metadata.program == "student"', {"student"}),
        ('!(portfolio.metadata.program == "student")', set()),
        ("has(portfolio.metadata.program)", {"student"}),
        ("!has(portfolio.metadata.program)", {"loose", "empty"}),
        (
            'has(metadata.university) || portfolio.metadata.program == "student"',
            {"loose", "student"},
        ),
        ("portfolioId == null", {"loose"}),
    ],
)
def test_portfolio_metadata_is_read_through_the_account_s_portfolio(
    with_portfolios, rule, expected
):
    ledger, _ = with_portfolios
    assert members(ledger, rule) == expected


def test_portfolio_id_compares_with_the_portfolio_s_uuid(with_portfolios):
    ledger, student = with_portfolios
    assert members(ledger, f'portfolioId == "{student.id}"') == {"student"}
    assert members(ledger, f'portfolioId != "{student.id}"') == {"loose", "empty"}
    assert members(ledger, f'portfolioId in ["{student.id}"]') == {"student"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('createdAt < now - duration("720h")', {"old"}),
        ('!(createdAt < now - duration("720h"))', {"recent", "future"}),
        ("createdAt > now", {"future"}),
        ('createdAt >= timestamp("2025-05-22T12:00:00Z")', {"recent", "future"}),
        ('createdAt < timestamp("2025-06-01T12:00:00Z") - duration("240h")', {"old"}),
        ('createdAt <= now - duration("240h")', {"old", "recent"}),
    ],
)
def test_time_comparisons_use_the_given_now(ledger, rule, expected):
    create(
        ledger,
        old={"created_at": NOW - dt.timedelta(days=40)},
        recent={"created_at": NOW - dt.timedelta(days=10)},
        future={"created_at": NOW + dt.timedelta(days=1)},
    )
    assert members(ledger, rule) == expected


def test_without_a_given_now_the_database_clock_is_used(ledger):
    create(
        ledger,
        old={"created_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
        soon={"created_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=3)},
    )
    rule = parse_rule('createdAt < now - duration("24h") || createdAt > now', "account")
    assert set(Account.objects.filter(rule_q(rule)).values_list("alias", flat=True)) == {
        "old",
        "soon",
    }
    rule = parse_rule('createdAt > now + duration("48h")', "account")
    assert set(Account.objects.filter(rule_q(rule)).values_list("alias", flat=True)) == {"soon"}


def test_blocked_and_constants(ledger):
    create(ledger, blocked={"blocked": True}, free={"blocked": False})
    assert members(ledger, "blocked") == {"blocked"}
    assert members(ledger, "!blocked") == {"free"}
    assert members(ledger, "blocked == false") == {"free"}
    assert members(ledger, "blocked in [true]") == {"blocked"}
    assert members(ledger, "true") == {"blocked", "free"}
    assert members(ledger, "!true || false") == set()


def test_a_portfolio_rule_chooses_portfolios(ledger):
    for name, metadata in (("Alpha", {"tier": "gold"}), ("Beta", {"tier": 3}), ("gamma", {})):
        Portfolio.objects.create(
            organization=ledger.organization, ledger=ledger, name=name, metadata=metadata
        )
    rule = parse_rule('metadata.tier == "gold" || name.startsWith("g")', "portfolio")
    portfolios = Portfolio.objects.filter(ledger=ledger)
    chosen = set(portfolios.filter(rule_q(rule, now=NOW)).values_list("name", flat=True))
    by_cel = {
        p.name
        for p in portfolios
        if evaluate(rule, row_values(p, "portfolio"), subject="portfolio", now=NOW)
    }
    assert chosen == by_cel == {"Alpha", "gamma"}


def test_explain_gives_each_top_level_clause_its_value(ledger):
    create(ledger, vip={"name": None, "metadata": {"tier": "black"}})
    account = Account.objects.select_related("portfolio").get(alias="vip")
    rule = parse_rule(
        'type == "deposit" && (metadata.score > 700 || blocked) && !(name == "x") '
        '&& metadata.tier == "black"',
        "account",
    )
    assert explain(rule, row_values(account), now=NOW) == [
        ('type == "deposit"', True),
        ("metadata.score > 700 || blocked", None),  # a missing key: an error, no match
        ('!(name == "x")', True),
        ('metadata.tier == "black"', True),
    ]
    single = parse_rule("blocked", "account")
    assert explain(single, row_values(account), now=NOW) == [("blocked", False)]
