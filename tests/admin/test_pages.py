"""Every admin page loads, and a changelist costs the same number of queries for 5 rows as
for 30 (no query per row); big tables are not counted exactly on every page load."""

import datetime as dt
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from segments import services
from segments.admin.counting import EstimatedCountPaginator
from segments.admin.entities import AccountAdmin
from segments.models import (
    Account,
    Membership,
    Organization,
    Portfolio,
    Segment,
    SegmentHistory,
    Status,
)
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MODELS = (
    "organization",
    "ledger",
    "segment",
    "portfolio",
    "account",
    "membership",
    "segmenthistory",
)
MAX_CHANGELIST_QUERIES = 10
MAX_CHANGE_PAGE_QUERIES = 20


def build(model: str, count: int, organization, ledger) -> list:
    """``count`` rows of ``model``, each with the related rows its list shows."""
    rows = []
    for _ in range(count):
        if model == "organization":
            rows.append(OrganizationFactory(parent_organization=organization))
        elif model == "ledger":
            rows.append(LedgerFactory(organization=organization))
        elif model == "segment":
            segment = SegmentFactory(ledger=ledger)
            AccountFactory(ledger=ledger, segment=segment)
            PortfolioFactory(ledger=ledger, segment=segment)
            rows.append(segment)
        elif model == "portfolio":
            rows.append(PortfolioFactory(ledger=ledger, segment=SegmentFactory(ledger=ledger)))
        elif model == "account":
            segment = SegmentFactory(ledger=ledger)
            portfolio = PortfolioFactory(ledger=ledger, segment=segment)
            rows.append(AccountFactory(ledger=ledger, portfolio=portfolio, segment=segment))
        elif model == "membership":
            rows.append(Membership.objects.create(user=UserFactory(), organization=organization))
        elif model == "segmenthistory":
            segment = SegmentFactory(ledger=ledger)
            services.update_segment(None, segment, {"description": "changed"})
            rows.append(SegmentHistory.objects.filter(segment=segment).first())
    return rows


def changelist_queries(client, model: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/segments/{model}/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_queries_do_not_grow_with_rows(
    staff_client, organization, ledger, model, django_assert_max_num_queries
):
    build(model, 5, organization, ledger)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        with_five = changelist_queries(staff_client, model)
    build(model, 25, organization, ledger)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        with_thirty = changelist_queries(staff_client, model)
    assert with_thirty == with_five


@pytest.mark.parametrize("model", MODELS)
def test_change_page_loads_with_bounded_queries(
    staff_client, organization, ledger, model, django_assert_max_num_queries
):
    (row,) = build(model, 1, organization, ledger)
    with django_assert_max_num_queries(MAX_CHANGE_PAGE_QUERIES):
        response = staff_client.get(f"/admin/segments/{model}/{row.pk}/change/")
    assert response.status_code == 200


@pytest.mark.parametrize("model", [m for m in MODELS if m != "segmenthistory"])
def test_add_page_loads(staff_client, model):
    assert staff_client.get(f"/admin/segments/{model}/add/").status_code == 200


def test_history_cannot_be_added_changed_or_deleted(staff_client, organization, ledger):
    (entry,) = build("segmenthistory", 1, organization, ledger)
    assert staff_client.get("/admin/segments/segmenthistory/add/").status_code == 403
    page = staff_client.get(f"/admin/segments/segmenthistory/{entry.pk}/change/")
    assert b'name="_save"' not in page.content
    assert (
        staff_client.post(f"/admin/segments/segmenthistory/{entry.pk}/delete/").status_code == 403
    )


def test_admin_index_lists_all_seven_models(staff_client):
    content = staff_client.get("/admin/").content.decode()
    for model in MODELS:
        assert f"/admin/segments/{model}/" in content


def test_non_staff_member_of_an_organization_cannot_open_the_admin(client, users):
    client.force_login(users["admin"])
    response = client.get("/admin/segments/segment/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --------------------------------------------------------------------------- lists


def test_search_by_whole_id_finds_that_row(staff_client, ledger):
    wanted, _ = AccountFactory(ledger=ledger), AccountFactory(ledger=ledger)
    response = staff_client.get(f"/admin/segments/account/?q={wanted.pk}")
    assert list(response.context["cl"].result_list) == [wanted]


def test_search_by_alias_and_by_legal_document(staff_client, ledger, organization):
    AccountFactory(ledger=ledger, alias="@carol-card")
    AccountFactory(ledger=ledger, alias="@dave")
    response = staff_client.get("/admin/segments/account/?q=carol")
    assert [a.alias for a in response.context["cl"].result_list] == ["@carol-card"]
    response = staff_client.get(f"/admin/segments/organization/?q={organization.legal_document}")
    assert list(response.context["cl"].result_list) == [organization]


def test_deleted_rows_are_hidden_unless_the_deleted_filter_asks(staff_client, ledger, staff):
    live, gone = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    services.delete_segment(staff, gone)
    listed = staff_client.get("/admin/segments/segment/").context["cl"].result_list
    assert list(listed) == [live]
    listed = staff_client.get("/admin/segments/segment/?deleted=yes").context["cl"].result_list
    assert [s.pk for s in listed] == [gone.pk]
    listed = staff_client.get("/admin/segments/segment/?deleted=all").context["cl"].result_list
    assert {s.pk for s in listed} == {live.pk, gone.pk}


def test_deleted_row_opens_read_only(staff_client, ledger, staff):
    gone = SegmentFactory(ledger=ledger)
    services.delete_segment(staff, gone)
    page = staff_client.get(f"/admin/segments/segment/{gone.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = staff_client.post(f"/admin/segments/segment/{gone.pk}/change/", {"name": "x"})
    assert response.status_code == 403


def test_segment_list_shows_scope_and_member_counts(staff_client, organization, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    SegmentFactory(ledger=None, organization=organization, name="Private")
    AccountFactory.create_batch(3, ledger=ledger, segment=segment)
    PortfolioFactory(ledger=ledger, segment=segment)
    response = staff_client.get("/admin/segments/segment/?scope=ledger")
    (row,) = response.context["cl"].result_list
    assert (row.account_count, row.portfolio_count) == (3, 1)
    content = response.content.decode()
    assert "Ledger · Cards" in content
    response = staff_client.get("/admin/segments/segment/?scope=organization")
    assert [s.name for s in response.context["cl"].result_list] == ["Private"]


def test_account_list_filters_by_segment_and_by_having_one(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    member, other = AccountFactory(ledger=ledger, segment=segment), AccountFactory(ledger=ledger)
    listed = staff_client.get(f"/admin/segments/account/?segment={segment.pk}")
    assert list(listed.context["cl"].result_list) == [member]
    assert "Black (Cards)" in listed.content.decode()
    listed = staff_client.get("/admin/segments/account/?segment=none")
    assert list(listed.context["cl"].result_list) == [other]
    listed = staff_client.get("/admin/segments/account/?segment=any")
    assert list(listed.context["cl"].result_list) == [member]


def test_bad_segment_filter_value_is_not_a_server_error(staff_client):
    response = staff_client.get("/admin/segments/account/?segment=not-a-uuid")
    assert response.status_code == 302
    assert "e=1" in response["Location"]


@pytest.mark.postgres
def test_big_changelist_is_counted_by_estimate_not_by_a_full_count(
    staff_client, ledger, monkeypatch
):
    AccountFactory.create_batch(30, ledger=ledger)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 10)
    monkeypatch.setattr(AccountAdmin, "list_per_page", 5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE segments_account")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/segments/account/")
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the changelist should count, bounded"
    assert all(re.search(r"LIMIT \d+", sql) for sql in counts), counts
    assert response.context["cl"].paginator.count_is_estimate
    assert "about" in response.content.decode()


def test_small_changelist_is_counted_exactly(staff_client, ledger):
    AccountFactory.create_batch(3, ledger=ledger)
    response = staff_client.get("/admin/segments/account/")
    assert response.context["cl"].result_count == 3
    assert not response.context["cl"].paginator.count_is_estimate


# --------------------------------------------------------------------------- choices


def autocomplete(client, model: str, field: str, term: str = "") -> list[dict]:
    response = client.get(
        "/admin/segments/segment/autocomplete/",
        {"app_label": "segments", "model_name": model, "field_name": field, "term": term},
    )
    assert response.status_code == 200
    return response.json()["results"]


def test_autocomplete_says_where_a_segment_lives_and_skips_deleted_ones(
    staff_client, organization, ledger, staff
):
    other = LedgerFactory(organization=organization, name="Banking")
    SegmentFactory(ledger=ledger, name="Black")
    SegmentFactory(ledger=other, name="Black")
    SegmentFactory(ledger=None, organization=organization, name="Blackest")
    gone = SegmentFactory(ledger=ledger, name="Black old")
    services.delete_segment(staff, gone)
    texts = sorted(r["text"] for r in autocomplete(staff_client, "account", "segment", "black"))
    assert texts == ["Black · Banking", "Black · Cards", "Blackest · Acme Bank (organization)"]


def test_autocomplete_of_ledgers_names_their_organization(staff_client, ledger):
    results = autocomplete(staff_client, "account", "ledger", "card")
    assert [r["text"] for r in results] == ["Cards · Acme Bank"]


def test_autocomplete_by_whole_id(staff_client, ledger):
    account = AccountFactory(ledger=ledger)
    results = autocomplete(staff_client, "account", "parent_account", str(account.pk))
    assert [r["id"] for r in results] == [str(account.pk)]


def test_unknown_object_page_redirects_instead_of_failing(staff_client):
    response = staff_client.get(f"/admin/segments/segment/{uuid.uuid4()}/change/")
    assert response.status_code == 302


def test_every_entity_model_is_registered():
    from django.contrib import admin

    for model in (Organization, Segment, Portfolio, Account, SegmentHistory, Membership):
        assert admin.site.is_registered(model)
    assert Status.ACTIVE


def _unbounded_scans(queries) -> list[str]:
    """Statements that read every matching row: DISTINCT dates, or MIN/MAX without the
    paginator's LIMIT."""
    return [
        q["sql"]
        for q in queries
        if "DISTINCT" in q["sql"].upper()
        or ("MIN(" in q["sql"].upper() and not re.search(r"LIMIT \d+", q["sql"]))
    ]


def test_date_drill_down_reads_two_rows_instead_of_scanning_all(staff_client, ledger):
    old = AccountFactory(ledger=ledger)
    Account.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=800))
    AccountFactory.create_batch(3, ledger=ledger)
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/segments/account/")
    assert not _unbounded_scans(queries)
    content = response.content.decode()
    this_year, first_year = timezone.now().year, (timezone.now() - dt.timedelta(days=800)).year
    for year in range(first_year, this_year + 1):
        assert f"?created_at__year={year}" in content
    response = staff_client.get(f"/admin/segments/account/?created_at__year={this_year}")
    assert "All dates" in response.content.decode()
    assert len(response.context["cl"].result_list) == 3


def test_date_drill_down_offers_a_month_s_days_and_a_day_goes_back_to_its_month(
    staff_client, ledger
):
    account = AccountFactory(ledger=ledger)
    created = timezone.localtime(timezone.now() - dt.timedelta(days=40))
    Account.objects.filter(pk=account.pk).update(created_at=created)
    AccountFactory(ledger=ledger)
    month = f"?created_at__year={created.year}&created_at__month={created.month}"
    content = staff_client.get(f"/admin/segments/account/{month}").content.decode()
    assert f"created_at__day={created.day}" in content
    assert f"?created_at__year={created.year}" in content  # back to the year
    response = staff_client.get(f"/admin/segments/account/{month}&created_at__day={created.day}")
    assert f"created_at__month={created.month}" in response.content.decode()  # back to the month
    assert [row.pk for row in response.context["cl"].result_list] == [account.pk]
