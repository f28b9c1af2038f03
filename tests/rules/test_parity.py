"""Parity, the proof of the compiler: for generated accounts and generated rules, the
accounts the rule's SQL chooses on PostgreSQL are exactly those that cel-python's
evaluation of the same rule text chooses, row by row, with the same ``now``.

The accounts carry what breaks naive compilers: metadata numbers (ints, decimals, -0.0),
numeric strings, booleans, nulls, missing keys, a list, unicode and LIKE's ``%``/``_``;
null names, aliases and entity ids; accounts with and without a portfolio."""

import datetime as dt
import uuid

import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from segments import errors
from segments.models import Account, Portfolio, Status
from segments.rules import evaluate, parse_rule, row_values, rule_q

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
TIMES = [NOW - dt.timedelta(days=d) for d in (400, 40, 30, 10, 0)] + [NOW + dt.timedelta(days=1)]
PORTFOLIO_IDS = [uuid.UUID(f"01900000-0000-7000-8000-00000000000{n}") for n in range(3)]
KEYS = ["score", "tier", "vip", "code"]
TEXTS = ["", "a", "b", "black", "Black", "blackout", "é", "z", "Z", "日本", "a_b", "a%b", "😀"]
TEXTS += ["900", "700.5", "true", "null", "creditCard", "ACTIVE", "vip0", "Credit"]
TYPES = ["creditCard", "checking", "Credit", "savings"]

# ---------------------------------------------------------------- accounts

numbers = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-10000, 10000).map(lambda n: n / 10),
    st.sampled_from([0, -0.0, 700, 701, 700.5, 699.9]),
)
json_values = st.one_of(
    numbers,
    st.sampled_from(TEXTS),
    st.booleans(),
    st.none(),
    st.just(["black"]),
)
metadata = st.dictionaries(st.sampled_from([*KEYS, "ключ"]), json_values, max_size=4)
optional_text = st.one_of(st.none(), st.sampled_from(TEXTS))
accounts = st.fixed_dictionaries(
    {
        "name": optional_text,
        "alias": st.one_of(st.none(), st.sampled_from(["vip", "VIP", "v_p", "a%b", "ñ", ""])),
        "type": st.sampled_from(TYPES),
        "asset_code": st.sampled_from(["BRL", "USD", "EUR"]),
        "entity_id": optional_text,
        "blocked": st.booleans(),
        "status_code": st.sampled_from(Status.values),
        "portfolio": st.one_of(st.none(), st.integers(0, len(PORTFOLIO_IDS) - 1)),
        "created_at": st.sampled_from(TIMES),
        "metadata": metadata,
    }
)

# ---------------------------------------------------------------- rules


def cel_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def listed(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


ORDERED = ["==", "!=", "<", "<=", ">", ">="]
EQUALITY = ["==", "!="]
TEXT_FIELDS = ["name", "alias", "type", "assetCode", "entityId", "status"]
JSON_FIELDS = [f"metadata.{key}" for key in KEYS] + [f"portfolio.metadata.{key}" for key in KEYS]
METHODS = ["startsWith", "endsWith", "contains"]
FRAGMENTS = ["", "v", "vip", "_", "%", "a", "b", "é", "Cred", "lack", "0"]
INSTANTS = [
    "now",
    'now - duration("720h")',
    'now + duration("24h")',
    'now - duration("240h") + duration("1h")',
    'timestamp("2025-01-01T00:00:00Z")',
    'timestamp("2025-05-01T00:00:00-03:00") + duration("36h")',
]

number_literals = numbers.map(lambda n: repr(n) if isinstance(n, float) else str(n))
string_literals = st.sampled_from(TEXTS + FRAGMENTS).map(cel_string)
text_fields, json_fields = st.sampled_from(TEXT_FIELDS), st.sampled_from(JSON_FIELDS)
ordered, equality = st.sampled_from(ORDERED), st.sampled_from(EQUALITY)
json_comparisons = st.one_of(
    st.tuples(ordered, st.one_of(number_literals, string_literals)),
    st.tuples(equality, st.sampled_from(["true", "false", "null"])),
)
homogeneous_lists = st.one_of(
    st.lists(number_literals, max_size=3),
    st.lists(string_literals, max_size=3),
    st.lists(st.sampled_from(["true", "false"]), min_size=1, max_size=2),
)
uuid_literals = st.sampled_from([*PORTFOLIO_IDS, uuid.UUID(int=7)]).map(lambda u: f'"{u}"')
leaves = st.one_of(
    st.builds("{} {} {}".format, text_fields, ordered, string_literals),
    st.builds("{} {} null".format, text_fields, equality),
    st.builds("{} in {}".format, text_fields, st.lists(string_literals, max_size=3).map(listed)),
    st.builds("{}.{}({})".format, text_fields, st.sampled_from(METHODS), string_literals),
    st.sampled_from(["blocked", "!blocked", "blocked == true", "blocked != true"]),
    st.sampled_from(["blocked in [false]", "true", "false"]),
    st.builds("portfolioId {} {}".format, equality, st.one_of(uuid_literals, st.just("null"))),
    st.builds("createdAt {} {}".format, ordered, st.sampled_from(INSTANTS)),
    st.builds(lambda f, c: f"{f} {c[0]} {c[1]}", json_fields, json_comparisons),
    st.builds("{2} {1} {0}".format, json_fields, ordered, number_literals),
    st.builds("{} in {}".format, json_fields, homogeneous_lists.map(listed)),
    st.builds("has({})".format, json_fields),
    st.builds("{}.{}({})".format, json_fields, st.sampled_from(METHODS), string_literals),
)
rules = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds("{} && {}".format, inner, inner),
        st.builds("({} || {})".format, inner, inner),
        st.builds("!({})".format, inner),
    ),
    max_leaves=6,
)

# ---------------------------------------------------------------- the property


def create_rows(ledger, account_rows: list[dict], portfolio_metadata: list[dict]) -> None:
    Portfolio.objects.bulk_create(
        Portfolio(id=pk, organization=ledger.organization, ledger=ledger, name=f"P{n}", metadata=m)
        for n, (pk, m) in enumerate(zip(PORTFOLIO_IDS, portfolio_metadata, strict=True))
    )
    Account.objects.bulk_create(account_row(ledger, n, row) for n, row in enumerate(account_rows))


def account_row(ledger, n: int, row: dict) -> Account:
    """The generated row as an account (aliases are unique in a ledger: numbered)."""
    columns = {name: value for name, value in row.items() if name != "portfolio"}
    if columns["alias"] is not None:
        columns["alias"] = f"{columns['alias']}{n}"
    portfolio = row["portfolio"]
    return Account(
        organization=ledger.organization,
        ledger=ledger,
        portfolio_id=None if portfolio is None else PORTFOLIO_IDS[portfolio],
        **columns,
    )


def chosen_by_sql_and_by_cel(ledger, text: str, loaded: list[Account]) -> tuple[set, set]:
    try:
        rule = parse_rule(text, "account")
    except errors.InvalidRule as error:  # a generated rule may only break the size limits
        assume("nodes" not in error.message and "deeper" not in error.message)
        raise
    scope = Account.objects.filter(ledger=ledger)
    by_sql = set(scope.filter(rule_q(rule, now=NOW)).values_list("id", flat=True))
    by_cel = {a.id for a in loaded if evaluate(rule, row_values(a), now=NOW)}
    return by_sql, by_cel


@settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    account_rows=st.lists(accounts, min_size=4, max_size=20),
    portfolio_metadata=st.lists(metadata, min_size=3, max_size=3),
    texts=st.lists(rules, min_size=1, max_size=6),
)
def test_the_sql_chooses_exactly_the_accounts_cel_chooses(
    ledger, account_rows, portfolio_metadata, texts
):
    with transaction.atomic():
        create_rows(ledger, account_rows, portfolio_metadata)
        loaded = list(Account.objects.filter(ledger=ledger).select_related("portfolio"))
        for text in texts:
            by_sql, by_cel = chosen_by_sql_and_by_cel(ledger, text, loaded)
            rows = {a.id: (a.alias, a.name, a.metadata, a.portfolio_id) for a in loaded}
            assert by_sql == by_cel, (
                f"{text}\nSQL only: {[rows[i] for i in by_sql - by_cel]}"
                f"\nCEL only: {[rows[i] for i in by_cel - by_sql]}"
            )
        transaction.set_rollback(True)
