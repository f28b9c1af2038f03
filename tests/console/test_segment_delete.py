"""Delete: a dialog naming the segment; with members it shows the counts and offers to
detach them and delete; admins only; the list refreshes and stays on its page."""

import json

import pytest

from segments import services
from segments.models import Account, Portfolio, Segment
from tests.console.conftest import htmx, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def delete_url(segment_kwargs):
    return url("segment_delete", **segment_kwargs)


def test_dialog_names_the_segment_and_counts_its_members(as_user, admin_user, black, delete_url):
    response = as_user(admin_user).get(delete_url, headers=htmx("dialog-body"))
    text = response.text
    assert response.status_code == 200
    assert 'Delete segment "Black"?' in text
    assert "2 accounts" in text and "1 portfolio" in text
    assert "Detach members and delete" in text


def test_plain_confirm_when_the_segment_is_empty(as_user, admin_user, ledger):
    empty = services.create_segment(admin_user, ledger, name="Empty")
    response = as_user(admin_user).get(
        url(
            "segment_delete",
            organization_id=ledger.organization_id,
            ledger_id=ledger.pk,
            segment_id=empty.pk,
        ),
        headers=htmx("dialog-body"),
    )
    assert "Detach members" not in response.text
    assert "Delete segment</button>" in response.text


def test_delete_without_detach_is_refused_while_members_exist(
    as_user, admin_user, black, delete_url
):
    response = as_user(admin_user).post(delete_url, headers=htmx("dialog-body"))
    assert response.status_code == 422
    assert "This segment still has members." in response.text
    assert Segment.objects.filter(pk=black.pk).exists()


def test_detach_and_delete(as_user, admin_user, black, delete_url):
    response = as_user(admin_user).post(delete_url, {"detach": "1"}, headers=htmx("dialog-body"))
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert events["segments-changed"] and events["close-dialog"]
    assert events["toast"]["message"] == "Segment “Black” deleted"
    assert not Segment.objects.filter(pk=black.pk).exists()
    assert not Account.objects.filter(segment_id=black.pk).exists()
    assert not Portfolio.objects.filter(segment_id=black.pk).exists()


def test_delete_from_the_segment_page_goes_back_to_the_list(
    as_user, admin_user, black, delete_url, ledger_kwargs
):
    response = as_user(admin_user).post(
        delete_url, {"detach": "1", "from": "detail"}, headers=htmx("dialog-body")
    )
    assert response["HX-Redirect"] == url("ledger_segments", **ledger_kwargs)


def test_delete_without_javascript(as_user, admin_user, black, delete_url, ledger_kwargs):
    page = as_user(admin_user).get(delete_url)
    assert "<html" in page.text
    response = as_user(admin_user).post(delete_url, {"detach": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == url("ledger_segments", **ledger_kwargs)
    assert "deleted" in response.text


def test_operator_and_viewer_may_not_delete(as_user, users, black, delete_url):
    for role in ("operator", "viewer"):
        client = as_user(users[role])
        assert client.get(delete_url).status_code == 403
        assert client.post(delete_url, {"detach": "1"}).status_code == 403
    assert Segment.objects.filter(pk=black.pk).exists()


def test_operator_sees_no_delete_button(as_user, operator, black, ledger_kwargs):
    text = as_user(operator).get(url("ledger_segments", **ledger_kwargs)).text
    assert "/delete/" not in text


def test_admin_sees_delete_buttons(as_user, admin_user, black, ledger_kwargs):
    text = as_user(admin_user).get(url("ledger_segments", **ledger_kwargs)).text
    assert "/delete/" in text
