"""Creation-date filters at the calendar's edges (issue 10, item 1).

``start_date=0001-01-01`` and ``end_date=9999-12-31`` are ordinary bounds: the last day
of the calendar means "no upper bound" (``filters.creation_window``), so every face —
API lists, counts and segment members, console tabs, CSV exports, the admin's
changelists and its export action — answers with the rows in the window, never a 500.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from segments.models import Account, Segment
from tests.factories import (
    AccountFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    token_for,
)

pytestmark = pytest.mark.django_db

WHOLE_CALENDAR = {"start_date": "0001-01-01", "end_date": "9999-12-31"}
EDGE_WINDOWS = [
    WHOLE_CALENDAR,
    {"start_date": "2020-01-01", "end_date": "9999-12-31"},
    {"start_date": "0001-01-01", "end_date": "9999-12-31 23:59:59"},
    {"start_date": "0001-01-01 00:00:00", "end_date": "9999-12-31T23:59:59"},
]


@pytest.fixture
def api(users) -> APIClient:
    """An API client of the organization's viewer."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(users['viewer'])}")
    return client


@pytest.fixture
def rows(ledger):
    """A segment with an account and a portfolio as members, an organization segment and
    one segment created before 2020."""
    segment = SegmentFactory(ledger=ledger, name="Black")
    AccountFactory(ledger=ledger, segment=segment, alias="@alice")
    PortfolioFactory(ledger=ledger, segment=segment)
    SegmentFactory(ledger=None, organization=ledger.organization, name="Private")
    old = SegmentFactory(ledger=ledger, name="Old")
    Segment.objects.filter(pk=old.pk).update(
        created_at=timezone.make_aware(dt.datetime(2019, 5, 1))
    )
    return segment


def api_paths(ledger, segment) -> dict[str, str]:
    org, led = ledger.organization_id, ledger.pk
    base = f"/v1/organizations/{org}/ledgers/{led}"
    return {
        "organizations": "/v1/organizations",
        "ledgers": f"/v1/organizations/{org}/ledgers",
        "segments": f"{base}/segments",
        "organization segments": f"/v1/organizations/{org}/segments",
        "portfolios": f"{base}/portfolios",
        "accounts": f"{base}/accounts",
        "members": f"{base}/segments/{segment.pk}/members",
        "portfolio members": f"{base}/segments/{segment.pk}/members?kind=portfolio",
    }


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("window", EDGE_WINDOWS)
def test_api_lists_take_the_calendars_edges_as_bounds(api, ledger, rows, window):
    client = api
    for name, path in api_paths(ledger, rows).items():
        response = client.get(path, window)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["items"], f"{name}: the window holds every row"


def test_api_edge_window_holds_exactly_the_rows_inside_it(api, ledger, rows):
    client = api
    path = api_paths(ledger, rows)["segments"]
    since_2020 = client.get(path, {"start_date": "2020-01-01", "end_date": "9999-12-31"})
    assert [item["name"] for item in since_2020.json()["items"]] == ["Black"]
    everything = client.get(path, WHOLE_CALENDAR | {"sort_order": "asc"})
    assert [item["name"] for item in everything.json()["items"]] == ["Old", "Black"]
    until_2019 = client.get(path, {"start_date": "0001-01-01", "end_date": "2019-12-31"})
    assert [item["name"] for item in until_2019.json()["items"]] == ["Old"]


@pytest.mark.parametrize("window", EDGE_WINDOWS)
def test_api_counts_take_the_calendars_edges_as_bounds(api, ledger, rows, window):
    client = api
    base = f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}"
    for kind in ("segments", "accounts", "portfolios"):
        response = client.head(f"{base}/{kind}/metrics/count", window)
        assert response.status_code == 204, (kind, response.status_code)
        assert int(response["X-Total-Count"]) >= 1


@pytest.mark.parametrize(
    "window",
    [
        {"start_date": "0000-12-31", "end_date": "2020-01-01"},
        {"start_date": "2020-01-01", "end_date": "10000-01-01"},
        {"start_date": "9999-12-31", "end_date": "0001-01-01"},
        {"start_date": "0001-01-01"},
    ],
)
def test_api_dates_outside_the_calendar_are_0083(api, ledger, rows, window):
    response = api.get(api_paths(ledger, rows)["accounts"], window)
    assert response.status_code == 400
    assert response.json()["code"] == "0083"


# --------------------------------------------------------------------------- console


def console_pages(ledger, segment) -> dict[str, str]:
    kwargs = {"organization_id": ledger.organization_id, "ledger_id": ledger.pk}
    return {
        "segments tab": reverse("console:ledger_segments", kwargs=kwargs),
        "organization page": reverse(
            "console:organization", kwargs={"organization_id": ledger.organization_id}
        ),
    }


@pytest.mark.parametrize(
    "dates",
    [{"from": "0001-01-01", "to": "9999-12-31"}, {"from": "9999-12-31"}, {"to": "9999-12-31"}],
)
def test_console_date_filters_at_the_edges_list_the_rows(client, users, ledger, rows, dates):
    client.force_login(users["viewer"])
    response = client.get(console_pages(ledger, rows)["segments tab"], dates)
    assert response.status_code == 200
    body = response.content.decode()
    if dates.get("from") == "9999-12-31":
        assert "No segment matches your search" in body
    else:
        assert "Black" in body and 'role="alert"' not in body


def test_console_date_outside_the_calendar_is_a_message_not_a_500(client, users, ledger, rows):
    client.force_login(users["viewer"])
    for name, url in console_pages(ledger, rows).items():
        response = client.get(url, {"from": "10000-01-01"})
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'role="alert"' in body and "The date range is not valid" in body, name


# --------------------------------------------------------------------------- CSV exports


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, getattr(response, "content", b"")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("window", EDGE_WINDOWS)
def test_console_exports_take_the_calendars_edges_as_bounds(client, users, ledger, rows, window):
    client.force_login(users["viewer"])
    segments = reverse("exports:segments_csv", args=[ledger.organization_id, ledger.pk])
    assert {row["name"] for row in csv_rows(client.get(segments, window))} >= {"Black"}
    members = reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, rows.pk]
    )
    assert {row["kind"] for row in csv_rows(client.get(members, window))} == {
        "account",
        "portfolio",
    }


def test_segments_export_applies_the_tabs_date_filter(client, users, ledger, rows):
    """The tab's ``from``/``to`` (what its Export link carries) narrow the file as they
    narrow the tab."""
    client.force_login(users["viewer"])
    url = reverse("exports:segments_csv", args=[ledger.organization_id, ledger.pk])
    assert [row["name"] for row in csv_rows(client.get(url, {"from": "2020-01-01"}))] == ["Black"]
    assert [r["name"] for r in csv_rows(client.get(url, {"to": "2019-12-31"}))] == ["Old"]
    response = client.get(url, {"from": "2020-01-01", "to": "9999-12-31"})
    assert [row["name"] for row in csv_rows(response)] == ["Black"]
    assert client.get(url, {"from": "10000-01-01"}).status_code == 400


# --------------------------------------------------------------------------- admin

DRILL_DOWNS = [
    {"created_at__year": "9999"},
    {"created_at__year": "9999", "created_at__month": "12"},
    {"created_at__year": "9999", "created_at__month": "12", "created_at__day": "31"},
]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


def result_names(response) -> list[str]:
    """The names in a segment changelist's result rows."""
    assert response.status_code == 200, response.status_code
    return re.findall(r'<th class="field-name"><a href="[^"]*">([^<]*)</a>', response.text)


@pytest.mark.parametrize("drill", DRILL_DOWNS)
def test_admin_date_drill_down_at_the_last_year_is_not_a_500(staff_client, rows, drill):
    for model in ("account", "portfolio", "ledger", "organization", "segmenthistory"):
        response = staff_client.get(f"/admin/segments/{model}/", drill)
        assert response.status_code == 200, (model, response.status_code)
    assert result_names(staff_client.get("/admin/segments/segment/", drill)) == []


def test_admin_date_drill_down_still_narrows_to_its_period(staff_client, rows):
    today = timezone.now()
    this_year = {"created_at__year": str(today.year)}
    assert set(result_names(staff_client.get("/admin/segments/segment/", this_year))) == {
        "Black",
        "Private",
    }
    day = this_year | {"created_at__month": str(today.month), "created_at__day": str(today.day)}
    assert "Black" in result_names(staff_client.get("/admin/segments/segment/", day))
    old = {"created_at__year": "2019", "created_at__month": "5"}
    assert result_names(staff_client.get("/admin/segments/segment/", old)) == ["Old"]
    response = staff_client.get(
        "/admin/segments/segment/", {"created_at__year": "2019", "created_at__month": "13"}
    )
    assert response.status_code == 302 and "e=1" in response["Location"], "Django's bad filter"


@pytest.mark.parametrize("drill", DRILL_DOWNS)
def test_admin_export_action_under_the_last_year_is_not_a_500(staff_client, rows, drill):
    url = "/admin/segments/segment/?" + "&".join(f"{k}={v}" for k, v in drill.items())
    response = staff_client.post(
        url, {"action": "export_members_csv", "_selected_action": [str(rows.pk)]}
    )
    assert csv_rows(response) == [], "no segment of the year 9999 is selected"
    assert Account.objects.filter(segment=rows).count() == 1, "nothing changed"
