"""Create and edit: dialogs loaded by htmx, errors beside their fields with what was
typed kept, success as HX-Trigger (refresh + toast + close), metadata removal that
really removes, one segment per double submit, and the ETag guard."""

import json
import re

import pytest

from segments import services
from segments.models import Segment, SegmentHistory
from tests.console.conftest import htmx, url

pytestmark = pytest.mark.django_db


def triggers(response) -> dict:
    return json.loads(response["HX-Trigger"])


def token_of(response) -> str:
    return re.search(r'name="form_token" value="([0-9a-f]+)"', response.text).group(1)


@pytest.fixture
def create_url(ledger_kwargs):
    return url("segment_create", **ledger_kwargs)


@pytest.fixture
def edit_url(segment_kwargs):
    return url("segment_edit", **segment_kwargs)


def form_data(**overrides):
    data = {
        "name": "Gold",
        "status": "ACTIVE",
        "description": "",
        "metadata_key": [],
        "metadata_value": [],
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- create


def test_new_segment_dialog_for_htmx(as_user, operator, create_url):
    response = as_user(operator).get(create_url, headers=htmx("dialog-body"))
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="dialog-title"' in response.text
    assert 'hx-disabled-elt="find button[type=submit]"' in response.text
    assert token_of(response)
    for label in ('for="id_name"', 'for="id_status"', 'for="id_description"'):
        assert label in response.text


def test_create_deep_link_opens_the_dialog_on_a_full_load(as_user, operator, ledger_kwargs):
    response = as_user(operator).get(url("ledger_segments", **ledger_kwargs), {"create": "1"})
    assert "<html" in response.text
    assert "open data-modal-on-load" in response.text
    assert 'id="id_name"' in response.text


def test_create_page_without_javascript_is_a_page_of_its_own(as_user, operator, create_url):
    response = as_user(operator).get(create_url)
    assert response.status_code == 200
    assert "<html" in response.text and 'id="id_name"' in response.text


def test_create_with_two_metadata_entries(as_user, operator, ledger, create_url):
    data = form_data(
        name="  Gold  ", metadata_key=["tier", "cashback"], metadata_value=["gold", "2%"]
    )
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 204
    events = triggers(response)
    assert events["segments-changed"] is True and events["close-dialog"] is True
    assert events["toast"]["message"] == "Segment created"
    segment = Segment.objects.get(ledger=ledger)
    assert segment.name == "Gold"
    assert segment.metadata == {"tier": "gold", "cashback": "2%"}
    assert SegmentHistory.objects.filter(segment=segment, actor=operator).exists()


def test_create_without_javascript_redirects_with_a_message(
    as_user, operator, create_url, ledger_kwargs
):
    response = as_user(operator).post(create_url, form_data(), follow=True)
    assert response.redirect_chain[-1][0] == url("ledger_segments", **ledger_kwargs)
    assert "Segment created" in response.text


def test_duplicate_name_is_shown_under_name_and_keeps_what_was_typed(
    as_user, operator, black, create_url
):
    data = form_data(name="black", description="typed", metadata_key=["a"], metadata_value=["1"])
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    text = response.text
    name_field = text[text.index('for="id_name"') : text.index('for="id_status"')]
    assert "A segment with this name already exists in this ledger." in name_field
    assert 'value="black"' in text and ">\ntyped</textarea>" in text
    assert 'value="a"' in text and 'value="1"' in text
    assert Segment.objects.filter(name__iexact="black").count() == 1


def test_duplicate_name_at_organization_level(as_user, operator, ledger):
    services.create_segment(operator, ledger.organization, name="Private")
    response = as_user(operator).post(
        url("org_segment_create", organization_id=ledger.organization_id),
        form_data(name="PRIVATE"),
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "A segment with this name already exists in this organization." in response.text


def test_blank_name_is_required(as_user, operator, create_url):
    response = as_user(operator).post(
        create_url, form_data(name="   "), headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    assert "This field is required." in response.text


def test_over_long_name(as_user, operator, create_url):
    response = as_user(operator).post(
        create_url, form_data(name="x" * 257), headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    assert "at most 256 characters" in response.text


def test_over_long_metadata_key_is_an_error_beside_its_row(as_user, operator, create_url):
    data = form_data(metadata_key=["ok", "k" * 101], metadata_value=["1", "2"])
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    editor = response.text.split("<template")[0]
    rows = re.findall(
        r'<div class="metadata__row( has-error)?" data-metadata-row>(.*?)</div>', editor, re.S
    )
    assert len(rows) == 2
    assert rows[0][0] == "" and rows[1][0] == " has-error"
    assert "A key may have at most 100 characters." in rows[1][1]
    assert not Segment.objects.exists()


def test_over_long_metadata_value(as_user, operator, create_url):
    data = form_data(metadata_key=["k"], metadata_value=["v" * 2001])
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    assert "A value may have at most 2000 characters." in response.text


def test_duplicate_metadata_key_is_an_error_beside_the_second_row(as_user, operator, create_url):
    data = form_data(metadata_key=["tier", "tier"], metadata_value=["gold", "black"])
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    assert "The key “tier” is already used above." in response.text
    assert "Correct the metadata rows marked below." in response.text
    assert 'value="gold"' in response.text and 'value="black"' in response.text
    assert not Segment.objects.exists()


def test_value_without_key(as_user, operator, create_url):
    data = form_data(metadata_key=[""], metadata_value=["orphan"])
    response = as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    assert "Give this value a key." in response.text


def test_blank_metadata_rows_are_ignored(as_user, operator, ledger, create_url):
    data = form_data(metadata_key=["", "a"], metadata_value=["", "1"])
    as_user(operator).post(create_url, data, headers=htmx("dialog-body"))
    assert Segment.objects.get().metadata == {"a": "1"}


def test_unknown_status_is_refused(as_user, operator, create_url):
    response = as_user(operator).post(
        create_url, form_data(status="DELETED"), headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    assert "Select a valid choice." in response.text


def test_double_submit_of_the_same_form_creates_one_segment(as_user, operator, ledger, create_url):
    client = as_user(operator)
    token = token_of(client.get(create_url, headers=htmx("dialog-body")))
    first = client.post(create_url, form_data(form_token=token), headers=htmx("dialog-body"))
    second = client.post(create_url, form_data(form_token=token), headers=htmx("dialog-body"))
    assert first.status_code == second.status_code == 204
    assert triggers(second)["toast"]["message"] == "Segment created"
    assert Segment.objects.filter(ledger=ledger).count() == 1


def test_a_refused_submit_can_be_corrected_and_sent_again_with_the_same_token(
    as_user, operator, black, ledger, create_url
):
    client = as_user(operator)
    token = token_of(client.get(create_url, headers=htmx("dialog-body")))
    refused = client.post(
        create_url, form_data(name="Black", form_token=token), headers=htmx("dialog-body")
    )
    assert refused.status_code == 422
    assert token_of(refused) == token
    accepted = client.post(
        create_url, form_data(name="Gold", form_token=token), headers=htmx("dialog-body")
    )
    assert accepted.status_code == 204
    assert Segment.objects.filter(ledger=ledger).count() == 2


def test_another_form_gets_another_token(as_user, operator, create_url):
    client = as_user(operator)
    assert token_of(client.get(create_url, headers=htmx("dialog-body"))) != token_of(
        client.get(create_url, headers=htmx("dialog-body"))
    )


# --------------------------------------------------------------------------- edit


def test_edit_dialog_shows_read_only_facts_and_current_values(as_user, operator, black, edit_url):
    response = as_user(operator).get(edit_url, headers=htmx("dialog-body"))
    text = response.text
    assert response.status_code == 200
    assert str(black.pk) in text and "Cards" in text
    assert "Created" in text and "Updated" in text
    assert 'value="Black"' in text
    assert (
        'name="metadata_key" value="tier"' in text and 'name="metadata_value" value="black"' in text
    )
    assert 'name="metadata_value" value="true"' in text
    etag = services.entity_etag(black).replace('"', "&quot;")
    assert f'name="etag" value="{etag}"' in text


def test_edit_without_javascript_is_a_page(as_user, operator, edit_url):
    response = as_user(operator).get(edit_url)
    assert "<html" in response.text and 'id="id_name"' in response.text


def test_edit_updates_and_removing_a_row_removes_the_key(as_user, operator, black, edit_url):
    data = form_data(
        name="Black Premium", status="INACTIVE", metadata_key=["lounge"], metadata_value=["true"]
    )
    response = as_user(operator).post(edit_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 204
    assert triggers(response)["toast"]["message"] == "Segment updated"
    black.refresh_from_db()
    assert black.name == "Black Premium"
    assert black.status_code == "INACTIVE"
    assert black.metadata == {"lounge": True}  # the untouched value keeps its type


def test_edit_changes_a_metadata_value(as_user, operator, black, edit_url):
    data = form_data(name="Black", metadata_key=["tier", "lounge"], metadata_value=["onyx", "true"])
    as_user(operator).post(edit_url, data, headers=htmx("dialog-body"))
    black.refresh_from_db()
    assert black.metadata == {"tier": "onyx", "lounge": True}


def test_edit_removing_every_row_clears_metadata(as_user, operator, black, edit_url):
    as_user(operator).post(edit_url, form_data(name="Black"), headers=htmx("dialog-body"))
    black.refresh_from_db()
    assert black.metadata == {}


def test_edit_duplicate_name(as_user, operator, black, ledger, edit_url):
    services.create_segment(operator, ledger, name="Student")
    response = as_user(operator).post(
        edit_url, form_data(name="STUDENT"), headers=htmx("dialog-body")
    )
    assert response.status_code == 422
    assert "A segment with this name already exists in this ledger." in response.text


def test_concurrent_edit_is_refused_with_a_clear_message(as_user, operator, black, edit_url):
    client = as_user(operator)
    form = client.get(edit_url, headers=htmx("dialog-body"))
    etag = re.search(r'name="etag" value="([^"]+)"', form.text).group(1)
    services.update_segment(operator, black, {"description": "changed elsewhere"})
    data = form_data(name="Mine", etag=etag.replace("&quot;", '"'))
    response = client.post(edit_url, data, headers=htmx("dialog-body"))
    assert response.status_code == 422
    assert "This segment changed since you opened it" in response.text
    assert "This segment changed since you opened it" in triggers(response)["toast"]["message"]
    black.refresh_from_db()
    assert black.name == "Black"


def test_edit_with_the_current_etag_succeeds(as_user, operator, black, edit_url):
    client = as_user(operator)
    form = client.get(edit_url, headers=htmx("dialog-body"))
    etag = re.search(r'name="etag" value="([^"]+)"', form.text).group(1).replace("&quot;", '"')
    response = client.post(edit_url, form_data(name="Mine", etag=etag), headers=htmx("dialog-body"))
    assert response.status_code == 204


# --------------------------------------------------------------------------- roles


def test_viewer_cannot_open_or_post_the_forms(as_user, users, black, create_url, edit_url):
    client = as_user(users["viewer"])
    assert client.get(create_url, headers=htmx("dialog-body")).status_code == 403
    assert client.post(create_url, form_data()).status_code == 403
    assert client.get(edit_url).status_code == 403
    assert client.post(edit_url, form_data(name="x")).status_code == 403
    assert Segment.objects.count() == 1


def test_outsider_gets_404_on_forms(as_user, users, black, create_url, edit_url):
    client = as_user(users["outsider"])
    assert client.post(create_url, form_data()).status_code == 404
    assert client.post(edit_url, form_data(name="x")).status_code == 404


def test_403_page(as_user, users, create_url):
    response = as_user(users["viewer"]).post(create_url, form_data())
    assert "Your role does not allow this action" in response.text
