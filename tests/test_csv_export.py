"""CSV exports of the console: the Segments tab and a segment's Members tab, streamed,
with the tab's filters and tenancy."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from segments.models import Account, Role, Status
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
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
    assert (first["alias"], first["type"], first["asset_code"]) == ("@alice", "deposit", "BRL")
    assert (first["portfolio_id"], first["blocked"]) == (str(portfolio.pk), "true")
    assert (first["segment_id"], first["segment_name"]) == (str(segment.pk), "Black")
    assert rows[1]["name"] == "Family"


def test_members_export_of_one_kind_and_filtered(viewer_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory(ledger=ledger, segment=segment, alias="@alice")
    AccountFactory(ledger=ledger, segment=segment, alias="@bob")
    PortfolioFactory(ledger=ledger, segment=segment)
    rows = read_csv(viewer_client.get(members_url(ledger, segment), {"kind": "accounts"}))
    assert [r["alias"] for r in rows] == ["@alice", "@bob"]
    rows = read_csv(viewer_client.get(members_url(ledger, segment), {"kind": "portfolios"}))
    assert [r["kind"] for r in rows] == ["portfolio"]
    rows = read_csv(
        viewer_client.get(members_url(ledger, segment), {"kind": "accounts", "q": "bob"})
    )
    assert [r["alias"] for r in rows] == ["@bob"]
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
