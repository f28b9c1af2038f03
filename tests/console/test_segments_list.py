"""The Segments tab: one search box (name or exact id), filters, sort, paging with exact
totals, distinct empty states, all in the URL; a bounded number of queries."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from segments import services
from segments.models import Segment
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    import re

    return re.findall(r'class="row-title" href="[^"]+">([^<]+)</a>', response.text)


@pytest.fixture
def segments_url(ledger_kwargs):
    return url("ledger_segments", **ledger_kwargs)


@pytest.fixture
def many(ledger):
    """57 segments, created a minute apart, so that order by creation is stable."""
    start = timezone.now() - dt.timedelta(days=1)
    return [
        SegmentFactory(
            ledger=ledger,
            name=f"Segment {index:02d}",
            created_at=start + dt.timedelta(minutes=index),
        )
        for index in range(57)
    ]


def get(client, path, **params):
    return client.get(path, params, headers=htmx("segments-table"))


def test_search_by_name_fragment_case_insensitive(as_user, operator, black, segments_url, ledger):
    SegmentFactory(ledger=ledger, name="Student")
    response = get(as_user(operator), segments_url, q="bLa")
    assert names(response) == ["Black"]


def test_search_by_exact_id(as_user, operator, black, segments_url, ledger):
    SegmentFactory(ledger=ledger, name="Student")
    response = get(as_user(operator), segments_url, q=str(black.pk))
    assert names(response) == ["Black"]


def test_search_box_is_debounced_and_kept_in_the_url(as_user, operator, segments_url):
    text = as_user(operator).get(segments_url, {"q": "bla"}).text
    assert 'hx-trigger="input changed delay:300ms, search"' in text
    assert 'hx-push-url="true"' in text
    assert 'name="q" value="bla"' in text


def test_filter_by_status(as_user, operator, black, ledger, segments_url):
    SegmentFactory(ledger=ledger, name="Dormant", status_code="INACTIVE")
    assert names(get(as_user(operator), segments_url, status="INACTIVE")) == ["Dormant"]


def test_filter_by_metadata_pair(as_user, operator, black, ledger, segments_url):
    SegmentFactory(ledger=ledger, name="Gold", metadata={"tier": "gold"})
    assert names(get(as_user(operator), segments_url, metadata="tier=gold")) == ["Gold"]


def test_created_range_fills_a_missing_side(as_user, operator, ledger, segments_url):
    SegmentFactory(ledger=ledger, name="Old", created_at=timezone.now() - dt.timedelta(days=30))
    SegmentFactory(ledger=ledger, name="New")
    client = as_user(operator)
    since = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    until = (timezone.now() - dt.timedelta(days=10)).date().isoformat()
    assert names(get(client, segments_url, **{"from": since})) == ["New"]
    assert names(get(client, segments_url, to=until)) == ["Old"]


def test_a_reversed_date_range_is_explained_not_crashed(as_user, operator, black, segments_url):
    response = get(as_user(operator), segments_url, **{"from": "2030-01-02", "to": "2030-01-01"})
    assert response.status_code == 200
    assert "The date range is not valid" in response.text
    assert "No segment matches your search" in response.text


def test_sort_by_name_both_ways(as_user, operator, ledger, segments_url):
    for name in ("beta", "Alpha", "gamma"):
        SegmentFactory(ledger=ledger, name=name)
    client = as_user(operator)
    assert names(get(client, segments_url, sort="name", sort_order="asc")) == [
        "Alpha",
        "beta",
        "gamma",
    ]
    assert names(get(client, segments_url, sort="name", sort_order="desc")) == [
        "gamma",
        "beta",
        "Alpha",
    ]


def test_sort_by_created_defaults_to_newest_first(as_user, operator, many, segments_url):
    client = as_user(operator)
    assert names(get(client, segments_url))[0] == "Segment 56"
    assert names(get(client, segments_url, sort="created", sort_order="asc"))[0] == "Segment 00"


def test_paging_shows_exact_totals_and_disables_ends(as_user, operator, many, segments_url):
    client = as_user(operator)
    first = get(client, segments_url)
    assert "Showing 1–10 of 57" in first.text
    assert (
        '<span class="pager__link is-disabled" aria-disabled="true">Previous</span>' in first.text
    )
    assert 'rel="next"' in first.text
    second = get(client, segments_url, page=2)
    assert "Showing 11–20 of 57" in second.text
    last = get(client, segments_url, page=6)
    assert "Showing 51–57 of 57" in last.text
    assert '<span class="pager__link is-disabled" aria-disabled="true">Next</span>' in last.text
    assert 'aria-current="page">6</span>' in last.text


def page_links(response) -> list[str]:
    """The pager's links in order: page numbers, the current one in brackets, … for a gap."""
    items = re.findall(
        r'aria-label="Page (\d+)"|aria-current="page">(\d+)<|pager__gap',
        response.text.split('class="pager__pages"', 1)[1],
    )
    return [link or (f"[{current}]" if current else "…") for link, current in items]


def test_pager_links_elide_distant_pages_but_never_a_single_one(
    as_user, operator, many, segments_url
):
    client = as_user(operator)
    middle = get(client, segments_url, limit=5, page=6)
    assert page_links(middle) == ["1", "…", "4", "5", "[6]", "7", "8", "…", "12"]
    near_start = get(client, segments_url, limit=5, page=5)
    assert page_links(near_start) == ["1", "2", "3", "4", "[5]", "6", "7", "…", "12"]


@pytest.mark.parametrize("limit", [10, 50, 100])
def test_page_sizes(as_user, operator, many, segments_url, limit):
    response = get(as_user(operator), segments_url, limit=limit)
    assert len(names(response)) == min(limit, 57)
    assert f'<option value="{limit}" selected>' in response.text


def test_a_page_past_the_end_shows_the_last_page_and_corrects_the_url(
    as_user, operator, many, segments_url
):
    response = get(as_user(operator), segments_url, page=9)
    assert "Showing 51–57 of 57" in response.text
    assert "page=6" in response["HX-Replace-Url"]


def test_columns(as_user, operator, black, segments_url):
    text = get(as_user(operator), segments_url).text
    assert f'data-copy="{black.pk}"' in text  # short id, click copies
    assert f"…{str(black.pk)[-8:]}" in text
    assert "badge badge--active" in text
    assert "<strong>2</strong> accounts" in text and "<strong>1</strong> portfolio" in text
    assert "2 entries" in text
    assert (
        '<span class="meta-pop__key">tier</span> = <span class="meta-pop__value">black</span>'
        in text
    )
    assert '<span class="meta-pop__value">true</span>' in text
    assert (
        url(
            "segment",
            organization_id=black.organization_id,
            ledger_id=black.ledger_id,
            segment_id=black.pk,
        )
        in text
    )


def test_metadata_column_words(as_user, operator, ledger, segments_url):
    SegmentFactory(ledger=ledger, name="None", metadata={})
    SegmentFactory(ledger=ledger, name="One", metadata={"a": "1"})
    text = get(as_user(operator), segments_url).text
    assert 'aria-label="No metadata">—</span>' in text
    assert "1 entry" in text


def test_empty_ledger_invites_to_create(as_user, operator, segments_url):
    text = as_user(operator).get(segments_url).text
    assert "No segments in this ledger yet" in text
    assert "No segment matches your search" not in text


def test_empty_search_offers_to_clear_filters(as_user, operator, black, segments_url):
    text = get(as_user(operator), segments_url, q="zzz").text
    assert "No segment matches your search" in text
    assert "Clear filters" in text
    assert "No segments in this ledger yet" not in text


def test_deleted_segments_are_not_listed(as_user, operator, admin_user, ledger, segments_url):
    gone = SegmentFactory(ledger=ledger, name="Gone")
    services.delete_segment(admin_user, gone)
    assert "Gone" not in get(as_user(operator), segments_url).text


def test_table_refreshes_itself_when_segments_change(as_user, operator, segments_url):
    text = as_user(operator).get(segments_url, {"q": "x"}).text
    assert 'hx-trigger="segments-changed from:body"' in text
    assert f'hx-get="{segments_url}?q=x"' in text


def test_table_refresh_updates_tab_counts_out_of_band(as_user, operator, black, segments_url):
    text = get(as_user(operator), segments_url).text
    assert 'id="page-tabs"' in text and 'hx-swap-oob="true"' in text


def test_indicator_keeps_old_rows(as_user, operator, black, segments_url):
    text = as_user(operator).get(segments_url).text
    assert 'hx-indicator="#segments-table"' in text


def test_export_link_carries_the_filters(as_user, operator, black, segments_url, ledger_kwargs):
    from django.urls import reverse

    text = get(as_user(operator), segments_url, q="bla").text
    assert reverse("exports:segments_csv", kwargs=ledger_kwargs) + "?q=bla" in text


@pytest.mark.parametrize("rows", [10, 50])
def test_segments_tab_query_count_does_not_grow_with_rows(
    as_user, operator, ledger, segments_url, rows, django_assert_max_num_queries
):
    for index in range(rows):
        segment = SegmentFactory(ledger=ledger, name=f"S{index:02d}", metadata={"k": str(index)})
        AccountFactory(ledger=ledger, segment=segment)
    client = as_user(operator)
    with django_assert_max_num_queries(11):
        response = client.get(segments_url, {"limit": 100})
    assert response.text.count('class="row-title"') == rows


def test_organization_segments_use_the_same_list(as_user, operator, ledger):
    services.create_segment(operator, ledger.organization, name="Private")
    SegmentFactory(ledger=ledger, name="Ledger only")
    org_url = url("organization", organization_id=ledger.organization_id)
    response = as_user(operator).get(org_url, {"q": "priv"}, headers=htmx("segments-table"))
    assert names(response) == ["Private"]
    assert Segment.objects.count() == 2
