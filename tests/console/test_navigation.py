"""Sign-in, the organization list and page, the ledger page and its tabs: every screen
is a full page on a direct load and only its tab (or table) for htmx."""

import pytest

from segments import services
from tests.console.conftest import htmx, url

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client, ledger_kwargs):
    response = client.get(url("ledger_segments", **ledger_kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(url("login"))


def test_login_page_signs_in_and_lands_on_organizations(client, operator):
    page = client.get(url("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(url("login"), {"username": "operator", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == url("home")


def test_logout_is_a_post(as_user, operator):
    client = as_user(operator)
    assert client.post(url("logout")).status_code == 302
    assert client.get(url("home")).status_code == 302


def test_organization_list_shows_only_my_organizations(
    as_user, operator, organization, other_organization
):
    response = as_user(operator).get(url("home"))
    assert response.status_code == 200
    assert "Acme Bank" in response.text
    assert "Other Bank" not in response.text


def test_organization_page_lists_ledgers_and_organization_segments(as_user, operator, ledger):
    services.create_segment(operator, ledger.organization, name="Private")
    response = as_user(operator).get(url("organization", organization_id=ledger.organization_id))
    assert response.status_code == 200
    assert "Cards" in response.text
    assert "Private" in response.text
    assert "Organization segments" in response.text


def test_ledger_page_has_tabs_with_counts_breadcrumb_and_help(
    as_user, operator, black, ledger_kwargs
):
    response = as_user(operator).get(url("ledger_segments", **ledger_kwargs))
    text = response.text
    assert response.status_code == 200
    assert "<html" in text
    assert 'Segments <span class="tab__count">(1)</span>' in text
    assert 'Accounts <span class="tab__count">(2)</span>' in text
    assert 'Portfolios <span class="tab__count">(1)</span>' in text
    assert "Acme Bank" in text and "Cards" in text  # breadcrumb
    assert "Manage the segments of this ledger." in text
    assert "What is a segment?" in text


@pytest.mark.parametrize(
    "tab", ["ledger", "ledger_segments", "ledger_accounts", "ledger_portfolios"]
)
def test_each_tab_is_a_full_page_directly_and_only_the_tab_for_htmx(
    as_user, operator, black, ledger_kwargs, tab
):
    client = as_user(operator)
    full = client.get(url(tab, **ledger_kwargs))
    partial = client.get(url(tab, **ledger_kwargs), headers=htmx("tab-body"))
    assert full.status_code == partial.status_code == 200
    assert "<html" in full.text and "<html" not in partial.text
    assert 'id="page-tabs"' in partial.text and 'hx-swap-oob="true"' in partial.text
    assert "HX-Request" in partial["Vary"]


def test_tabs_switch_with_htmx_and_push_the_url(as_user, operator, ledger_kwargs):
    text = as_user(operator).get(url("ledger", **ledger_kwargs)).text
    segments_url = url("ledger_segments", **ledger_kwargs)
    assert f'hx-get="{segments_url}" hx-target="#tab-body" hx-push-url="true"' in text


def test_segments_table_alone_for_htmx_table_requests(as_user, operator, black, ledger_kwargs):
    response = as_user(operator).get(
        url("ledger_segments", **ledger_kwargs), headers=htmx("segments-table")
    )
    assert response.text.lstrip().startswith('<div id="segments-table"')
    assert "Black" in response.text
    assert 'id="segments-filters"' not in response.text


def test_history_restore_gets_the_full_page(as_user, operator, ledger_kwargs):
    headers = htmx("tab-body") | {"HX-History-Restore-Request": "true"}
    response = as_user(operator).get(url("ledger_segments", **ledger_kwargs), headers=headers)
    assert "<html" in response.text


def test_non_member_gets_404_for_every_screen(as_user, users, black, ledger_kwargs, segment_kwargs):
    client = as_user(users["outsider"])
    assert (
        client.get(
            url("organization", organization_id=ledger_kwargs["organization_id"])
        ).status_code
        == 404
    )
    for name in ("ledger", "ledger_segments", "ledger_accounts", "ledger_portfolios"):
        assert client.get(url(name, **ledger_kwargs)).status_code == 404
    for name in ("segment", "segment_members", "segment_history", "segment_edit", "segment_delete"):
        assert client.get(url(name, **segment_kwargs)).status_code == 404


def test_unknown_ids_are_404(as_user, operator, ledger, other_ledger, ledger_kwargs):
    client = as_user(operator)
    import uuid

    assert (
        client.get(
            url("ledger_segments", organization_id=ledger.organization_id, ledger_id=uuid.uuid4())
        ).status_code
        == 404
    )
    # another organization's ledger under my organization's path
    assert (
        client.get(
            url(
                "ledger_segments", organization_id=ledger.organization_id, ledger_id=other_ledger.pk
            )
        ).status_code
        == 404
    )
    assert client.get(url("segment", segment_id=uuid.uuid4(), **ledger_kwargs)).status_code == 404


def test_404_page_is_the_console_page(as_user, users, ledger_kwargs, settings):
    settings.DEBUG = False
    response = as_user(users["outsider"]).get(url("ledger_segments", **ledger_kwargs))
    assert response.status_code == 404
    assert "This page does not exist" in response.text


def test_every_page_carries_the_csrf_token_for_htmx(as_user, operator, ledger_kwargs):
    text = as_user(operator).get(url("ledger_segments", **ledger_kwargs)).text
    assert 'hx-headers=\'{"X-CSRFToken": "' in text


def test_posts_without_csrf_token_are_refused(client, operator, ledger_kwargs):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    response = strict.post(
        url("segment_create", **ledger_kwargs), {"name": "X", "status": "ACTIVE"}
    )
    assert response.status_code == 403


def test_language_switcher_and_portuguese(as_user, operator, black, ledger_kwargs):
    client = as_user(operator)
    page = client.get(url("ledger_segments", **ledger_kwargs))
    assert 'action="/i18n/setlang/"' in page.text
    pt = client.get(url("ledger_segments", **ledger_kwargs), headers={"Accept-Language": "pt-BR"})
    assert 'lang="pt-br"' in pt.text
    assert "Gerencie os segmentos deste ledger." in pt.text
    assert "Novo segmento" in pt.text
