"""How an account or a portfolio came into its segment (``segment_assigned_by``, issue #14
item 3) in the admin: an "assigned by" column in words, a filter (by hand, by rule; any
other value refused), read-only on the change page and absent from the add page — only
the services set it, so a post cannot — and the changelists' query counts unchanged."""

from __future__ import annotations

import json
import re

import pytest

from segments import services
from segments.models import Account, AssignedBy, Portfolio
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 10  # as tests/admin/test_pages.py


@pytest.fixture
def rows(ledger):
    """Per kind: one member chosen by a rule, one pinned by hand, one in no segment."""
    dynamic = SegmentFactory(ledger=ledger, name="Premium")
    manual = SegmentFactory(ledger=ledger, name="Manual")
    return {
        "account": {
            "rule": AccountFactory(
                ledger=ledger, alias="@ruled", segment=dynamic, segment_assigned_by="rule"
            ),
            "manual": AccountFactory(
                ledger=ledger, alias="@pinned", segment=manual, segment_assigned_by="manual"
            ),
            "none": AccountFactory(ledger=ledger, alias="@loose"),
        },
        "portfolio": {
            "rule": PortfolioFactory(
                ledger=ledger, name="Ruled", segment=dynamic, segment_assigned_by="rule"
            ),
            "manual": PortfolioFactory(
                ledger=ledger, name="Pinned", segment=manual, segment_assigned_by="manual"
            ),
            "none": PortfolioFactory(ledger=ledger, name="Loose"),
        },
    }


def listed(page: str) -> set[str]:
    """The ids of the rows a changelist shows (its checkboxes)."""
    return set(re.findall(r'name="_selected_action" value="([^"]+)"', page))


def cell(page: str, pk) -> str:
    """The ``assigned by`` cell of the row with ``pk``."""
    row = re.search(rf'value="{pk}".*?</tr>', page, re.S).group(0)
    return re.search(r'<td class="field-assigned_by">(.*?)</td>', row, re.S).group(1)


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_the_changelist_has_an_assigned_by_column(staff_client, rows, model):
    page = staff_client.get(f"/admin/segments/{model}/").content.decode()
    assert re.search(r'<th scope="col" class="column-assigned_by">.*?Assigned by', page, re.S)
    assert cell(page, rows[model]["rule"].pk) == "By rule"
    assert cell(page, rows[model]["manual"].pk) == "By hand (pinned)"
    assert cell(page, rows[model]["none"].pk) == "-"


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_the_changelist_filters_by_how_members_were_assigned(staff_client, rows, model):
    url = f"/admin/segments/{model}/"
    page = staff_client.get(url).content.decode()
    assert "By assigned by" in page
    assert 'href="?assigned_by=manual"' in page and 'href="?assigned_by=rule"' in page
    by_rule = staff_client.get(url, {"assigned_by": "rule"}).content.decode()
    assert listed(by_rule) == {str(rows[model]["rule"].pk)}
    by_hand = staff_client.get(url, {"assigned_by": "manual"}).content.decode()
    assert listed(by_hand) == {str(rows[model]["manual"].pk)}
    both = staff_client.get(url, {"assigned_by": "rule", "segment": "any"}).content.decode()
    assert listed(both) == {str(rows[model]["rule"].pk)}


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_an_unknown_value_is_refused_not_ignored(staff_client, rows, model):
    response = staff_client.get(f"/admin/segments/{model}/", {"assigned_by": "robot"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_the_changelist_queries_stay_what_they_were(
    staff_client, ledger, rows, model, django_assert_max_num_queries
):
    url = f"/admin/segments/{model}/"
    staff_client.get(url)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES) as few:
        staff_client.get(url, {"assigned_by": "rule"})
    factory = AccountFactory if model == "account" else PortfolioFactory
    segment = rows[model]["rule"].segment
    factory.create_batch(25, ledger=ledger, segment=segment, segment_assigned_by="rule")
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES) as many:
        page = staff_client.get(url, {"assigned_by": "rule"})
    assert len(listed(page.content.decode())) == 26
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_the_change_page_shows_it_read_only(staff_client, rows, model):
    for by, words in (("rule", "By rule"), ("manual", "By hand (pinned)")):
        row = rows[model][by]
        page = staff_client.get(f"/admin/segments/{model}/{row.pk}/change/").content.decode()
        field = re.search(r'<div class="form-row field-assigned_by">.*?</div>\s*</div>', page, re.S)
        assert field, "shown on the change page"
        assert "Assigned by" in field.group(0) and f'<div class="readonly">{words}</div>' in (
            field.group(0)
        )
        assert 'name="segment_assigned_by"' not in page and 'name="assigned_by"' not in page


@pytest.mark.parametrize("model", ["account", "portfolio"])
def test_the_add_page_leaves_it_off(staff_client, model):
    page = staff_client.get(f"/admin/segments/{model}/add/").content.decode()
    assert "field-assigned_by" not in page and "field-segment" in page


def test_a_posted_value_changes_nothing_and_a_segment_set_here_pins(staff_client, ledger, rows):
    """The field is no input: a crafted post cannot set it. Setting a segment through the
    admin is a manual assignment (``services.update_account``): pinned."""
    account = rows["account"]["none"]
    other = SegmentFactory(ledger=ledger, name="Other")
    data = {
        "name": account.name or "",
        "entity_id": account.entity_id or "",
        "portfolio": "",
        "segment": str(other.pk),
        "status_code": account.status_code,
        "status_description": "",
        "metadata": json.dumps(account.metadata),
        "segment_assigned_by": "rule",
        "assigned_by": "rule",
    }
    response = staff_client.post(f"/admin/segments/account/{account.pk}/change/", data)
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.segment_id, account.segment_assigned_by) == (other.pk, AssignedBy.MANUAL)


def test_a_portfolio_a_rule_chose_reads_by_rule(staff_client, operator, ledger):
    """End to end: a rule's member, written by the services, reads "By rule"."""
    students = services.create_segment(operator, ledger, name="Students")
    services.put_rule(operator, students, 'metadata.program == "student"', "portfolio", 20)
    portfolio = services.create_portfolio(
        operator, ledger, name="Campus", metadata={"program": "student"}
    )
    assert Portfolio.objects.get(pk=portfolio.pk).segment_assigned_by == AssignedBy.RULE
    page = staff_client.get("/admin/segments/portfolio/", {"assigned_by": "rule"})
    assert cell(page.content.decode(), portfolio.pk) == "By rule"
    assert Account.objects.count() == 0
