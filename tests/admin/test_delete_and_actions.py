"""Deleting in the admin is the services' soft delete, and every segment action goes
through the services and writes the segment's history."""

import csv
import io

import pytest
from django.contrib.admin.models import DELETION, LogEntry

from segments import services
from segments.models import (
    Account,
    HistoryAction,
    Ledger,
    Portfolio,
    Segment,
    SegmentHistory,
    Status,
)
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db

SEGMENTS = "/admin/segments/segment/"


def run_action(client, action: str, objs, *, confirm: bool = False, url: str = SEGMENTS):
    data = {"action": action, "_selected_action": [str(o.pk) for o in objs]}
    if confirm:
        data["post"] = "yes"
    return client.post(url, data)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def history(segment) -> list[str]:
    return list(
        SegmentHistory.objects.filter(segment=segment)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


# --------------------------------------------------------------------------- delete


def test_delete_page_loads_for_a_segment_with_history_and_members(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger)
    services.update_segment(staff, segment, {"description": "has history now"})
    AccountFactory(ledger=ledger, segment=segment)
    response = staff_client.get(f"{SEGMENTS}{segment.pk}/delete/")
    assert response.status_code == 200
    assert not response.context["protected"]
    assert "stays in the database for audit" in response.content.decode()


def test_delete_is_the_soft_delete_and_records_history(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger)
    response = staff_client.post(f"{SEGMENTS}{segment.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert Segment.all_objects.get(pk=segment.pk).deleted_at is not None
    assert history(segment) == [HistoryAction.DELETED]
    assert LogEntry.objects.filter(object_id=str(segment.pk), action_flag=DELETION).exists()


def test_delete_refuses_a_segment_with_members(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory.create_batch(2, ledger=ledger, segment=segment)
    response = staff_client.post(f"{SEGMENTS}{segment.pk}/delete/", {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert any("2 account(s)" in m and "Detach members" in m for m in messages_of(response))
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert Account.objects.filter(segment=segment).count() == 2
    assert not LogEntry.objects.filter(action_flag=DELETION).exists(), "rolled back"


def test_delete_refuses_a_ledger_with_live_children(staff_client, ledger):
    AccountFactory(ledger=ledger)
    response = staff_client.post(f"/admin/segments/ledger/{ledger.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Ledger.objects.filter(pk=ledger.pk).exists()


def test_delete_account_soft_deletes_and_leaves_its_segment(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, segment=segment)
    staff_client.post(f"/admin/segments/account/{account.pk}/delete/", {"post": "yes"})
    assert Account.all_objects.get(pk=account.pk).deleted_at is not None
    assert history(segment) == [HistoryAction.MEMBERS_REMOVED]


def test_delete_selected_asks_first_then_deletes_through_services(staff_client, ledger):
    empty, full = SegmentFactory(ledger=ledger, name="Empty"), SegmentFactory(ledger=ledger)
    AccountFactory(ledger=ledger, segment=full)
    page = run_action(staff_client, "delete_selected", [empty, full])
    assert page.status_code == 200
    assert "kept in the database for audit" in page.content.decode()
    assert Segment.objects.count() == 2
    response = run_action(staff_client, "delete_selected", [empty, full], confirm=True)
    assert response.status_code == 302
    assert list(Segment.objects.all()) == [full]
    assert history(empty) == [HistoryAction.DELETED]
    messages = messages_of(response)
    assert "Deleted 1 segment." in messages
    assert any("Refused 1" in m and "still has 1 account" in m for m in messages)


# --------------------------------------------------------------------------- status


def test_deactivate_and_activate_record_history(staff_client, staff, ledger):
    black, gold = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    response = run_action(staff_client, "deactivate", [black, gold])
    assert response.status_code == 302
    assert set(Segment.objects.values_list("status_code", flat=True)) == {Status.INACTIVE}
    run_action(staff_client, "activate", [black])
    black.refresh_from_db()
    assert black.status_code == Status.ACTIVE
    assert history(black) == [HistoryAction.UPDATED, HistoryAction.UPDATED]
    assert history(gold) == [HistoryAction.UPDATED]
    entry = SegmentHistory.objects.filter(segment=black).order_by("created_at").last()
    assert entry.actor == staff
    assert entry.before["status"]["code"] == Status.INACTIVE
    assert entry.after["status"]["code"] == Status.ACTIVE


def test_deactivate_keeps_members(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory(ledger=ledger, segment=segment)
    run_action(staff_client, "deactivate", [segment])
    assert Account.objects.filter(segment=segment).count() == 1


# --------------------------------------------------------------------------- detach and delete


def test_detach_and_delete_shows_counts_then_detaches_and_deletes(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    accounts = AccountFactory.create_batch(3, ledger=ledger, segment=segment)
    PortfolioFactory(ledger=ledger, segment=segment)
    page = run_action(staff_client, "detach_and_delete", [segment])
    assert page.status_code == 200
    assert "3 account(s), 1 portfolio(s)" in page.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()

    response = run_action(staff_client, "detach_and_delete", [segment], confirm=True)
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not Account.all_objects.filter(segment=segment).exists()
    assert not Portfolio.all_objects.filter(segment=segment).exists()
    assert Account.objects.filter(pk__in=[a.pk for a in accounts]).count() == 3, "accounts stay"
    entry = SegmentHistory.objects.get(segment=segment, action=HistoryAction.DELETED)
    assert entry.before["detached"] == {"accounts": 3, "portfolios": 1}
    assert any("detached 3 account(s) and 1 portfolio(s)" in m for m in messages_of(response))


def test_detach_and_delete_from_the_segment_page(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory(ledger=ledger, segment=segment)
    url = f"{SEGMENTS}{segment.pk}/change/"
    data = {"CHANGE_FORM-action": "detach_and_delete", "_selected_action": [str(segment.pk)]}
    page = staff_client.post(url, data)
    assert page.status_code == 200
    assert 'name="CHANGE_FORM-action"' in page.content.decode()
    response = staff_client.post(url, {**data, "post": "yes"})
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


# --------------------------------------------------------------------------- restore


def test_restore_brings_a_deleted_segment_back_and_records_it(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    services.delete_segment(staff, segment)
    response = run_action(staff_client, "restore", [segment], url=f"{SEGMENTS}?deleted=yes")
    assert response.status_code == 302
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert history(segment) == [HistoryAction.DELETED, HistoryAction.RESTORED]
    assert "Restored 1 segment." in messages_of(response)


def test_restore_refuses_when_the_name_is_taken_again(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    services.delete_segment(staff, segment)
    SegmentFactory(ledger=ledger, name="BLACK")
    response = run_action(staff_client, "restore", [segment], url=f"{SEGMENTS}?deleted=yes")
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert any("Refused 1" in m and "already exists" in m for m in messages_of(response))
    assert history(segment) == [HistoryAction.DELETED]


def test_restore_from_a_deleted_segments_read_only_page(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger)
    services.delete_segment(staff, segment)
    url = f"{SEGMENTS}{segment.pk}/change/"
    page = staff_client.get(url)
    assert 'value="restore"' in page.content.decode()
    staff_client.post(url, {"CHANGE_FORM-action": "restore", "_selected_action": [str(segment.pk)]})
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_restore_of_a_live_segment_says_how_to_find_deleted_ones(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    response = run_action(staff_client, "restore", [segment])
    assert any("Deleted only" in m for m in messages_of(response))


# --------------------------------------------------------------------------- export and page


def read_csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_members_action_streams_every_member_of_the_selected_segments(staff_client, ledger):
    black, gold = SegmentFactory(ledger=ledger, name="Black"), SegmentFactory(ledger=ledger)
    accounts = AccountFactory.create_batch(3, ledger=ledger, segment=black)
    portfolio = PortfolioFactory(ledger=ledger, segment=gold)
    AccountFactory(ledger=ledger)
    response = run_action(staff_client, "export_members_csv", [black, gold])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert {(r["kind"], r["id"]) for r in rows} == {
        *(("account", str(a.pk)) for a in accounts),
        ("portfolio", str(portfolio.pk)),
    }
    assert {r["segment_name"] for r in rows if r["kind"] == "account"} == {"Black"}


def test_segment_page_shows_counts_links_and_latest_history(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    AccountFactory.create_batch(2, ledger=ledger, segment=segment)
    portfolio = PortfolioFactory(ledger=ledger, segment=segment)
    AccountFactory(ledger=ledger, portfolio=portfolio)
    services.update_segment(staff, segment, {"description": "Premium"})
    response = staff_client.get(f"{SEGMENTS}{segment.pk}/change/")
    content = response.content.decode()
    assert response.context["member_counts"] == {
        "accounts": 2,
        "portfolios": 1,
        "accounts_reached": 3,
    }
    assert f"/admin/segments/account/?segment={segment.pk}" in content
    assert f"/admin/segments/portfolio/?segment={segment.pk}" in content
    assert f"/admin/segments/segmenthistory/?segment={segment.pk}" in content
    assert "description: null → Premium" in content
    csv_url = f"{SEGMENTS}{segment.pk}/members.csv"
    assert csv_url in content
    rows = read_csv(staff_client.get(csv_url))
    assert len(rows) == 3


def test_history_list_filters_on_one_segment(staff_client, staff, ledger):
    black, gold = SegmentFactory(ledger=ledger, name="Black"), SegmentFactory(ledger=ledger)
    services.update_segment(staff, black, {"description": "x"})
    services.update_segment(staff, gold, {"description": "y"})
    response = staff_client.get(f"/admin/segments/segmenthistory/?segment={black.pk}")
    assert [e.segment for e in response.context["cl"].result_list] == [black]
