"""Issue #11 item 10: the admin's search stays fast on a million accounts.

- the condition Django's ``icontains`` search compiles to is served by the ``pg_trgm`` GIN
  indexes of migration 0007 (``EXPLAIN`` names them), for accounts, portfolios, segments;
- a search reads its matches once when they fit on one page (page, count and drill-down
  dates in one query), else twice (the page, then one bounded count with the dates), never
  by walking the id index from each end;
- the ledger filter beside it lists few ledgers (those of the chosen organization);
- on SQLite the same model state builds no trigram index (``make run``).

``bench/admin_search.py`` measures the whole request at 1M accounts.
"""

import datetime as dt

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from segments.admin.entities import AccountAdmin
from segments.admin.filters import LabelledRelatedFilter
from segments.indexes import TrigramIndex
from segments.models import Account, Ledger, Organization, Portfolio, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
)

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/segments/account/"
ROWS = 2000


def searches(queries) -> list[str]:
    return [q["sql"] for q in queries if " LIKE " in q["sql"].upper()]


def test_search_matches_alias_name_and_entity_id_ignoring_case(staff_client, ledger):
    by_alias = AccountFactory(ledger=ledger, alias="@maria-silva", name="Main")
    by_name = AccountFactory(ledger=ledger, alias=None, name="Conta MARIA")
    by_entity = AccountFactory(ledger=ledger, alias="@joao", entity_id="cust-maria-7")
    AccountFactory(ledger=ledger, alias="@pedro", name="Pedro")
    response = staff_client.get(ACCOUNTS, {"q": "Maria"})
    assert {a.pk for a in response.context["cl"].result_list} == {
        by_alias.pk,
        by_name.pk,
        by_entity.pk,
    }


@pytest.mark.parametrize(("per_page", "reads"), [(50, 1), (1, 2)])
def test_a_search_reads_its_matches_once_per_need_and_dates_them_right(
    staff_client, ledger, monkeypatch, per_page, reads
):
    """One page holds them all: one query is the page, the count and the dates. More
    pages: the first page, then one bounded count with the dates. Never a read of the id
    index from each end for the dates."""
    monkeypatch.setattr(AccountAdmin, "list_per_page", per_page)
    now = timezone.now()
    for alias, days in (("@other", 1600), ("@match-old", 800), ("@match-new", 0)):
        account = AccountFactory(ledger=ledger, alias=alias)
        Account.objects.filter(pk=account.pk).update(created_at=now - dt.timedelta(days=days))
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(ACCOUNTS, {"q": "match"})
    assert response.context["cl"].result_count == 2
    assert len(response.context["cl"].result_list) == min(per_page, 2)
    assert len(searches(queries)) == reads
    content = response.content.decode()
    first = (now - dt.timedelta(days=800)).year
    for year in range(first, now.year + 1):
        assert f"created_at__year={year}" in content
    assert f"created_at__year={(now - dt.timedelta(days=1600)).year}" not in content


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("path", "indexes"),
    [
        (ACCOUNTS, {"account_alias_trgm", "account_name_trgm", "account_entity_id_trgm"}),
        ("/admin/segments/portfolio/", {"portfolio_name_trgm", "portfolio_entity_id_trgm"}),
        ("/admin/segments/segment/", {"segment_name_trgm", "segment_description_trgm"}),
    ],
)
def test_the_admin_search_is_served_by_the_trigram_indexes(staff_client, ledger, path, indexes):
    scope = {"ledger": ledger, "organization": ledger.organization}
    Account.objects.bulk_create(
        Account(**scope, type="deposit", asset_code="BRL", name=f"Account {i}", alias=f"@a-{i}")
        for i in range(ROWS)
    )
    Portfolio.objects.bulk_create(
        Portfolio(**scope, name=f"Portfolio {i}", entity_id=f"HOLDER-{i}") for i in range(ROWS)
    )
    Segment.objects.bulk_create(
        Segment(**scope, name=f"Segment {i}", description=f"Benefits {i}") for i in range(ROWS)
    )
    with connection.cursor() as cursor:
        # What VACUUM does, in the test's transaction: move the new rows from the GIN
        # indexes' pending lists into the indexes, and gather the planner's statistics.
        cursor.execute(
            "SELECT gin_clean_pending_list(indexrelid::regclass) FROM pg_index "
            "WHERE indexrelid::regclass::text LIKE '%%_trgm'"
        )
        cursor.execute("ANALYZE segments_account, segments_portfolio, segments_segment")
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(path, {"q": "needle"}).status_code == 200
    statements = searches(queries)
    assert statements
    with connection.cursor() as cursor:
        # Without the indexes, only a scan of every live row could answer (no B-tree
        # serves LIKE '%…%'); forbid the sequential one so that a small table shows it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in statements:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, plan
            assert {name for name in indexes if f"Bitmap Index Scan on {name}" in plan} == (
                indexes
            ), plan


def filter_choices(response, field_path: str) -> set:
    """The ids a related filter offers; empty when the sidebar does not show it."""
    specs = response.context["cl"].filter_specs
    spec = next((s for s in specs if getattr(s, "field_path", None) == field_path), None)
    return {pk for pk, _ in spec.lookup_choices} if spec else set()


def test_the_ledger_filter_lists_the_chosen_organizations_ledgers(
    staff_client, monkeypatch, organization, ledger, other_ledger
):
    monkeypatch.setattr(LabelledRelatedFilter, "max_choices", 2)
    second = LedgerFactory(organization=organization, name="Savings")
    elsewhere = LedgerFactory(organization=other_ledger.organization, name="Treasury")
    assert filter_choices(staff_client.get(ACCOUNTS), "ledger") == set(), "too many to list"
    chosen = staff_client.get(ACCOUNTS, {"organization__id__exact": str(organization.pk)})
    assert filter_choices(chosen, "ledger") == {ledger.pk, second.pk}
    one = staff_client.get(ACCOUNTS, {"ledger__id__exact": str(elsewhere.pk)})
    assert filter_choices(one, "ledger") == {elsewhere.pk}, "the chosen ledger stays listed"
    assert filter_choices(staff_client.get(ACCOUNTS), "organization") == {
        organization.pk,
        other_ledger.organization.pk,
    }


def test_sqlite_builds_the_same_models_without_trigram_indexes(settings):
    sqlite = SQLiteWrapper(
        {
            **settings.DATABASES["default"],
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {},
        },
        alias="sqlite_probe",
    )
    try:
        with sqlite.schema_editor(atomic=False) as editor:
            for model in (Organization, Ledger, Segment, Portfolio, Account):
                editor.create_model(model)
            # A migration that adds or removes one is harmless there too.
            extra = TrigramIndex("type", name="account_type_trgm")
            editor.add_index(Account, extra)
            editor.remove_index(Account, extra)
        with sqlite.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            names = {row[0] for row in cursor.fetchall()}
    finally:
        sqlite.close()
    assert "account_live_created" in names, "the other indexes are built"
    assert not {name for name in names if name.endswith("_trgm")}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'account_alias_trgm'")
            assert "gin_trgm_ops" in cursor.fetchone()[0]
