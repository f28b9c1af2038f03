"""The rule language refuses everything outside the CEL subset of the spec with 0047,
naming the line, the column and the token, before any SQL exists; the limits hold
exactly at their boundary."""

import pytest

from segments import errors
from segments.models import Account, Portfolio
from segments.rules import parse_rule, rule_q
from segments.rules.language import MAX_DEPTH, MAX_LENGTH, MAX_LIST_ITEMS, MAX_NODES

pytestmark = pytest.mark.django_db


def refused(text: str, subject: str = "account") -> errors.InvalidRule:
    with pytest.raises(errors.InvalidRule) as caught:
        parse_rule(text, subject)
    return caught.value


# (rule, the reason's words, line, column, token)
BAD_INPUT = [
    ('type == "x"; DROP TABLE', "Syntax error", 1, 12, ";"),
    ('type == "x" && metadata.a\'b == "c"', "Syntax error", 1, 26, "'"),
    ('type"x" == "y"', "Syntax error", 1, 5, '"x"'),
    ('metadata["a\'b"] == 1', "Indexing with [...] is not allowed", 1, 1, 'metadata["a\'b"]'),
    ("size(name) > 3", "Function calls are not allowed", 1, 1, "size"),
    ("int(metadata.score) > 3", "Function calls are not allowed", 1, 1, "int"),
    ('metadata.tags.exists(t, t == "a")', "Macros are not allowed", 1, 15, "exists"),
    ('metadata.tags.all(t, t == "a")', "Macros are not allowed", 1, 15, "all"),
    ("metadata.tags.map(t, t) == []", "Macros are not allowed", 1, 15, "map"),
    ('name.matches("^a")', "Only the methods startsWith, endsWith and contains", 1, 6, "matches"),
    ('foo == "x"', "Not a field of accounts", 1, 1, "foo"),
    ('portfolio.name == "x"', "Not a field of accounts", 1, 1, "portfolio.name"),
    ('metadata.a.b == "x"', "Not a field of accounts", 1, 1, "metadata.a.b"),
    ('blocked == "x"', "blocked is true or false", 1, 12, '"x"'),
    ("createdAt > 5", "createdAt is a timestamp", 1, 13, "5"),
    ("name > 3", "name is text: compare it with a string", 1, 8, "3"),
    ("3 < name", "name is text: compare it with a string", 1, 1, "3"),
    (
        'metadata.score > "a" || metadata.vip < true',
        "< does not compare metadata.vip",
        1,
        25,
        "metadata.vip < true",
    ),
    ("type == alias", "A field compares with a literal", 1, 9, "alias"),
    ('"x" == "x"', "A comparison needs a catalogue field", 1, 1, '"x"'),
    ("metadata.vip", "Not a condition", 1, 1, "metadata.vip"),
    ('type == "x" ? true : false', "?: is not allowed", 1, 1, 'type == "x" ? true : false'),
    ("metadata.n * 2 > 3", "Arithmetic (* / %) is not allowed", 1, 1, "metadata.n * 2"),
    (
        "metadata.n + 1 > 3",
        "Arithmetic is only a time plus or minus a duration",
        1,
        1,
        "metadata.n + 1",
    ),
    ('type in ["a", 1]', "A list holds literals of one type", 1, 15, "1"),
    ("metadata.n == 1u", "Unsigned literals are not allowed", 1, 15, "1u"),
    ('metadata.n == b"x"', "Bytes literals are not allowed", 1, 15, 'b"x"'),
    ('metadata.n == {"a": 1}', "Maps are not allowed", 1, 15, '{"a": 1}'),
    ('portfolioId == "not-a-uuid"', "portfolioId is an id", 1, 16, '"not-a-uuid"'),
    ('createdAt > timestamp("yesterday")', "Not a timestamp", 1, 23, '"yesterday"'),
    ('createdAt > now - duration("forever")', "Not a duration", 1, 28, '"forever"'),
    ('metadata.k == "\\u0000"', "cannot be stored", 1, 15, '"\\u0000"'),
    (
        "metadata.k == 9223372036854775808",
        "The integer is out of range",
        1,
        15,
        "9223372036854775808",
    ),
    (
        "metadata.k > 0.1234567890123456",
        "at most 15 significant digits",
        1,
        14,
        "0.1234567890123456",
    ),
    ("metadata.k > 1e-400", "The number is out of range", 1, 14, "1e-400"),
    ('type == "x" &&\n  nope == 1', "Not a field of accounts", 2, 3, "nope"),
]


@pytest.mark.parametrize(("text", "reason", "line", "column", "token"), BAD_INPUT)
def test_a_rule_outside_the_language_is_refused_with_0047_naming_where(
    text, reason, line, column, token, django_assert_num_queries
):
    with django_assert_num_queries(0):
        error = refused(text)
    assert (error.code, error.http_status) == ("0047", 400)
    assert reason in error.message
    assert f"at line {line}, column {column}: `{token}`." in error.message
    assert error.fields == {"expression": error.message}
    assert (error.line, error.column, error.token) == (line, column, token)


def test_a_decimal_of_15_significant_digits_is_accepted():
    parse_rule("metadata.k > 0.123456789012345 && metadata.k < 1.5e300", "account")


def test_a_rule_that_ends_too_early_names_the_end():
    error = refused('type == "x" &&')
    assert error.message == "The rule ends too early at line 1, column 15."


def test_portfolio_rules_have_no_portfolio_fields():
    error = refused('portfolio.metadata.k == "x"', subject="portfolio")
    assert "Not a field of portfolios" in error.message
    assert parse_rule('metadata.k == "x" && name == "n"', "portfolio").fields_used == (
        "metadata.k",
        "name",
    )


def test_an_unknown_subject_is_refused():
    with pytest.raises(errors.InvalidRule) as caught:
        parse_rule('type == "x"', "ledger")
    assert caught.value.fields == {"subject": "The subject must be account or portfolio."}


# ---------------------------------------------------------------- limits


def padded_to(length: int) -> str:
    text = 'type == ""'
    return text[:-1] + "x" * (length - len(text)) + '"'


def clauses(count: int) -> str:
    return " || ".join(f'type == "t{n}"' for n in range(count))  # 1 + 3 × count nodes


def nested(levels: int) -> str:
    """A rule of depth ``levels``: ``!`` around a comparison (two levels)."""
    return "!(" * (levels - 2) + 'type == "x"' + ")" * (levels - 2)


def listed(items: int) -> str:
    return "metadata.n in [" + ",".join("1" for _ in range(items)) + "]"


@pytest.mark.parametrize(
    ("accepted", "refused_text", "reason", "column"),
    [
        (padded_to(MAX_LENGTH), padded_to(MAX_LENGTH + 1), "longer than 2000 characters", 2001),
        (clauses(21), clauses(21) + " || blocked", "more than 64 nodes", None),
        (nested(MAX_DEPTH), nested(MAX_DEPTH + 1), "nested deeper than 10 levels", None),
        (listed(MAX_LIST_ITEMS), listed(MAX_LIST_ITEMS + 1), "at most 500 items", 16 + 2 * 500),
    ],
    ids=["length", "nodes", "depth", "list"],
)
def test_each_limit_accepts_its_boundary_and_refuses_one_more(
    accepted, refused_text, reason, column, django_assert_num_queries
):
    with django_assert_num_queries(0):
        rule = parse_rule(accepted, "account")
        Account.objects.filter(rule_q(rule))
        error = refused(refused_text)
    assert reason in error.message and error.code == "0047"
    if column is not None:
        assert error.column == column


def test_the_node_limit_counts_the_rule_s_ast():
    assert len(clauses(21)) < MAX_LENGTH
    parse_rule(clauses(21), "account")  # Or + 21 × (comparison, field, literal) = 64
    error = refused(clauses(21) + " || blocked")  # 65
    assert error.message.startswith(f"The rule has more than {MAX_NODES} nodes at line 1")
    assert error.token == "blocked"


def test_a_pile_of_parentheses_is_refused_not_a_crash():
    error = refused("(" * 900 + 'type == "x"' + ")" * 900)
    assert "nested deeper than 10 levels" in error.message


def test_long_chains_are_one_level():
    parse_rule(" && ".join(["blocked"] * (MAX_NODES - 1)), "account")


# ---------------------------------------------------------------- what a rule reports


def test_a_rule_reports_the_fields_it_reads_and_whether_it_reads_the_clock(
    django_assert_num_queries,
):
    with django_assert_num_queries(0):
        rule = parse_rule(
            'type == "creditCard" && metadata.tier == "black" && !blocked '
            '&& assetCode in ["BRL", "USD"] && createdAt < now - duration("720h") '
            '&& (has(metadata.university) || portfolio.metadata.program == "student") '
            '&& alias.startsWith("vip") && 700 < metadata.score',
            "account",
        )
        Account.objects.filter(rule_q(rule))
    assert rule.fields_used == (
        "alias",
        "assetCode",
        "blocked",
        "createdAt",
        "metadata.score",
        "metadata.tier",
        "metadata.university",
        "portfolio.metadata.program",
        "type",
    )
    assert rule.time_dependent is True
    fixed = parse_rule('createdAt < timestamp("2025-01-01T00:00:00Z") - duration("1h")', "account")
    assert fixed.time_dependent is False


def test_a_portfolio_rule_compiles_for_portfolios(django_assert_num_queries):
    with django_assert_num_queries(0):
        rule = parse_rule('status == "ACTIVE" && metadata.kind.endsWith("x")', "portfolio")
        Portfolio.objects.filter(rule_q(rule))
    assert rule.subject == "portfolio" and not rule.time_dependent
