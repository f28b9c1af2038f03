"""How a member came into its segment (``segmentAssignedBy``, issue #14 item 3) in the
console, through rendered HTML and the downloaded files: the Accounts and Portfolios tabs
say "Black · by rule" / "Black · by hand" in their Segment column, a segment's Members tab
has an "Assigned" column, the account page says it beside its segment; the CSV member
exports (console and admin) carry a ``segment_assigned_by`` column (``manual``, ``rule``
or empty), which the import ignores (what it imports is pinned). The lists' query counts
stay what they were."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from segments import services
from segments.models import Account, AssignedBy, Portfolio, Segment
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db

BY_RULE = r'<span class="assigned-by muted" data-assigned-by="rule" title="[^"]+">{}</span>'
BY_HAND = r'<span class="assigned-by muted" data-assigned-by="manual" title="[^"]+">{}</span>'


def segment_cell(name: str, words: str, by: str = BY_RULE) -> str:
    """The Segment column's text: the segment's link, then ``· by rule`` / ``· by hand``."""
    return rf">{re.escape(name)}</a> · " + by.format(re.escape(words))


@pytest.fixture
def premium(ledger, operator) -> Segment:
    """Dynamic: accounts with ``metadata.tier == "black"``, priority 10."""
    segment = services.create_segment(operator, ledger, name="Premium")
    services.put_rule(operator, segment, 'metadata.tier == "black"', "account", 10)
    return segment


@pytest.fixture
def students(ledger, operator) -> Segment:
    """Dynamic: portfolios with ``metadata.program == "student"``, priority 20."""
    segment = services.create_segment(operator, ledger, name="Students")
    services.put_rule(operator, segment, 'metadata.program == "student"', "portfolio", 20)
    return segment


@pytest.fixture
def manual(ledger, operator) -> Segment:
    return services.create_segment(operator, ledger, name="Manual")


@pytest.fixture
def members(ledger, operator, premium, manual) -> dict[str, Account]:
    """An account the rule chose (written through the service, evaluated in its
    transaction) and one assigned by hand (pinned), and one that is in no segment."""
    chosen = services.create_account(
        operator, ledger, name="Chosen", type="deposit", asset_code="BRL",
        alias="@chosen", metadata={"tier": "black"},
    )  # fmt: skip
    pinned = services.create_account(
        operator, ledger, name="Pinned", type="deposit", asset_code="BRL", alias="@pinned"
    )
    services.assign_members(operator, manual, account_ids=[pinned.pk])
    loose = services.create_account(
        operator, ledger, name="Loose", type="deposit", asset_code="BRL", alias="@loose"
    )
    found = {a.name: a for a in Account.objects.filter(pk__in=[chosen.pk, pinned.pk, loose.pk])}
    assert found["Chosen"].segment_id == premium.pk
    assert found["Chosen"].segment_assigned_by == AssignedBy.RULE
    assert found["Pinned"].segment_assigned_by == AssignedBy.MANUAL
    assert found["Loose"].segment_assigned_by is None
    return found


def row_of(page: str, marker: str) -> str:
    """The table row (``<tr>…</tr>``) that holds ``marker``."""
    found = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(marker)}.*?</tr>", page, re.S)
    assert found, marker
    return found.group(0)


def account_url(account: Account) -> str:
    return url(
        "account",
        organization_id=account.organization_id,
        ledger_id=account.ledger_id,
        account_id=account.pk,
    )


def members_url(segment: Segment) -> str:
    return url(
        "segment_members",
        organization_id=segment.organization_id,
        ledger_id=segment.ledger_id,
        segment_id=segment.pk,
    )


# --------------------------------------------------------------------------- the ledger's tabs


def test_the_accounts_tab_says_by_rule_and_by_hand(as_user, operator, members, ledger_kwargs):
    page = as_user(operator).get(url("ledger_accounts", **ledger_kwargs)).text
    assert re.search(segment_cell("Premium", "by rule"), row_of(page, "@chosen"))
    assert re.search(segment_cell("Manual", "by hand", BY_HAND), row_of(page, "@pinned"))
    loose = row_of(page, "@loose")
    assert "data-assigned-by" not in loose and '<span class="muted">—</span>' in loose
    # The words say what each one means, for whoever hovers them.
    assert 'title="Chosen by the segment’s rule: it leaves when it stops matching"' in page
    assert 'title="Assigned by hand: pinned, no rule moves it"' in page


def test_an_organization_segment_keeps_its_badge_before_the_words(
    as_user, operator, organization, ledger, ledger_kwargs
):
    group = services.create_segment(operator, organization, name="Group")
    account = AccountFactory(ledger=ledger, name="Grouped")
    services.assign_members(operator, group, account_ids=[account.pk])
    row = row_of(as_user(operator).get(url("ledger_accounts", **ledger_kwargs)).text, "Grouped")
    assert re.search(
        r'>Group</a> <span class="badge badge--org"[^>]*>org</span> · ' + BY_HAND.format("by hand"),
        row,
    )


def test_an_account_through_its_portfolio_says_how_the_portfolio_was_assigned(
    as_user, operator, ledger, students, ledger_kwargs
):
    portfolio = services.create_portfolio(
        operator, ledger, name="Campus", metadata={"program": "student"}
    )
    assert Portfolio.objects.get(pk=portfolio.pk).segment_assigned_by == AssignedBy.RULE
    AccountFactory(ledger=ledger, name="Through", portfolio=portfolio)
    row = row_of(as_user(operator).get(url("ledger_accounts", **ledger_kwargs)).text, "Through")
    assert re.search(r"via portfolio: Students</span> · " + BY_RULE.format("by rule"), row)


def test_the_portfolios_tab_says_by_rule_and_by_hand(
    as_user, operator, ledger, students, manual, ledger_kwargs
):
    services.create_portfolio(operator, ledger, name="Campus", metadata={"program": "student"})
    family = services.create_portfolio(operator, ledger, name="Family")
    services.assign_members(operator, manual, portfolio_ids=[family.pk])
    page = as_user(operator).get(url("ledger_portfolios", **ledger_kwargs)).text
    assert re.search(segment_cell("Students", "by rule"), row_of(page, "Campus"))
    assert re.search(segment_cell("Manual", "by hand", BY_HAND), row_of(page, "Family"))


@pytest.mark.parametrize("tab", ["ledger_accounts", "ledger_portfolios"])
def test_the_tabs_query_counts_stay_bounded_with_both_kinds_of_member(
    as_user, operator, ledger, premium, manual, ledger_kwargs, tab, django_assert_max_num_queries
):
    """The bound of ``test_records.test_accounts_tab_query_count_is_bounded``: the words
    come from a column of the row, never from a query of their own."""
    portfolio = PortfolioFactory(ledger=ledger, segment=manual, segment_assigned_by="manual")
    for _ in range(20):
        AccountFactory(
            ledger=ledger, portfolio=portfolio, segment=premium, segment_assigned_by="rule"
        )
        AccountFactory(ledger=ledger, segment=manual, segment_assigned_by="manual")
        PortfolioFactory(ledger=ledger, segment=premium, segment_assigned_by="rule")
    client = as_user(operator)
    with django_assert_max_num_queries(11):
        page = client.get(url(tab, **ledger_kwargs), {"limit": 50}).text
    assert page.count('data-assigned-by="rule"') == 20
    assert page.count('data-assigned-by="manual"') == (20 if tab == "ledger_accounts" else 1)


# --------------------------------------------------------------------------- members tab


def test_a_dynamic_segments_members_are_by_rule(as_user, operator, members, premium):
    page = as_user(operator).get(members_url(premium)).text
    assert '<th scope="col">Assigned</th>' in page
    row = row_of(page, "@chosen")
    assert re.search(r'<td class="cell-assigned">' + BY_RULE.format("By rule") + "</td>", row)
    assert "@pinned" not in page


def test_a_manual_segments_members_are_by_hand(as_user, operator, members, manual):
    page = as_user(operator).get(members_url(manual), headers=htmx("members-table")).text
    assert '<th scope="col">Assigned</th>' in page
    row = row_of(page, "@pinned")
    assert re.search(r'<td class="cell-assigned">' + BY_HAND.format("By hand") + "</td>", row)


def test_members_of_a_segment_that_became_dynamic_keep_their_pin(as_user, operator, ledger, manual):
    """Members assigned by hand before the segment got its rule stay pinned, beside the
    ones its rule chose: the tab tells them apart."""
    pinned = AccountFactory(ledger=ledger, name="Old member", metadata={"tier": "silver"})
    services.assign_members(operator, manual, account_ids=[pinned.pk])
    services.put_rule(operator, manual, 'metadata.tier == "black"', "account", 30)
    AccountFactory(ledger=ledger, name="Ruled", segment=manual, segment_assigned_by="rule")
    page = as_user(operator).get(members_url(manual), {"kind": "accounts"}).text
    assert re.search(BY_HAND.format("By hand"), row_of(page, "Old member"))
    assert 'data-assigned-by="rule"' in row_of(page, "Ruled")


def test_the_members_tab_of_portfolios_says_it_too(as_user, operator, ledger, students):
    services.create_portfolio(operator, ledger, name="Campus", metadata={"program": "student"})
    page = as_user(operator).get(members_url(students), {"kind": "portfolios"}).text
    assert 'data-assigned-by="rule"' in row_of(page, "Campus")


@pytest.mark.parametrize("rows", [10, 50])
def test_the_members_tab_query_count_does_not_grow(
    as_user, operator, ledger, manual, rows, django_assert_max_num_queries
):
    """The bound of ``test_segment_page.test_members_query_count_does_not_grow_with_rows``."""
    portfolio = PortfolioFactory(ledger=ledger)
    extra = AccountFactory.create_batch(rows, ledger=ledger, portfolio=portfolio)
    services.assign_members(operator, manual, account_ids=[a.pk for a in extra])
    client = as_user(operator)
    with django_assert_max_num_queries(11):
        page = client.get(members_url(manual), {"limit": 100}).text
    assert page.count('data-assigned-by="manual"') == rows


# --------------------------------------------------------------------------- account page


def test_the_account_page_says_how_its_segment_was_assigned(as_user, operator, members):
    client = as_user(operator)
    chosen = client.get(account_url(members["Chosen"])).text
    assert re.search(
        r'<dd id="account-segment">Premium · ' + BY_RULE.format("by rule") + "</dd>", chosen
    )
    pinned = client.get(account_url(members["Pinned"])).text
    assert re.search(
        r'<dd id="account-segment">Manual · ' + BY_HAND.format("by hand") + "</dd>", pinned
    )
    loose = client.get(account_url(members["Loose"])).text
    assert '<dd id="account-segment">None of its own</dd>' in loose


def test_the_account_page_says_how_its_portfolio_was_assigned(as_user, operator, ledger, students):
    portfolio = services.create_portfolio(
        operator, ledger, name="Campus", metadata={"program": "student"}
    )
    account = AccountFactory(ledger=ledger, portfolio=portfolio)
    page = as_user(operator).get(account_url(account)).text
    assert re.search(
        r'<dd id="account-portfolio">Campus \(Students · ' + BY_RULE.format("by rule") + r"\)</dd>",
        page,
    )


def test_the_account_page_reads_no_more_queries(
    as_user, operator, members, django_assert_num_queries
):
    """The count of ``test_rules.test_the_explanation_reads_constant_queries`` for one
    rule: the page's 10 and the candidates' segments."""
    client = as_user(operator)
    client.get(account_url(members["Chosen"]))
    with django_assert_num_queries(11):
        page = client.get(account_url(members["Chosen"])).text
    assert 'data-assigned-by="rule"' in page


# --------------------------------------------------------------------------- CSV


def read(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def export_url(segment: Segment) -> str:
    return reverse(
        "exports:segment_members_csv",
        args=[segment.organization_id, segment.ledger_id, segment.pk],
    )


def test_the_member_export_says_manual_or_rule(as_user, operator, ledger, members, premium, manual):
    PortfolioFactory(ledger=ledger, segment=premium, segment_assigned_by="rule", name="Ruled")
    legacy = AccountFactory(ledger=ledger, segment=manual)  # a row from before the column
    client = as_user(operator)
    response = client.get(export_url(premium))
    rows = read(response)
    assert [(r["kind"], r["segment_assigned_by"]) for r in rows] == [
        ("account", "rule"),
        ("portfolio", "rule"),
    ]
    by_id = {r["id"]: r["segment_assigned_by"] for r in read(client.get(export_url(manual)))}
    assert by_id == {str(members["Pinned"].pk): "manual", str(legacy.pk): ""}


def test_the_member_exports_header_ends_with_the_column(as_user, operator, members, premium):
    client = as_user(operator)
    body = b"".join(client.get(export_url(premium)).streaming_content).decode()
    header = next(csv.reader(io.StringIO(body)))
    assert header[-3:] == ["segment_id", "segment_name", "segment_assigned_by"]
    for kind in ("accounts", "portfolios"):
        body = b"".join(client.get(export_url(premium), {"kind": kind}).streaming_content)
        assert next(csv.reader(io.StringIO(body.decode())))[-1] == "segment_assigned_by"


def test_the_admin_member_csv_says_it_too(client, members, premium, manual):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/segments/segment/{premium.pk}/members.csv")
    assert [r["segment_assigned_by"] for r in read(page)] == ["rule"]
    action = client.post(
        "/admin/segments/segment/",
        {"action": "export_members_csv", "_selected_action": [premium.pk, manual.pk]},
    )
    assert {(r["segment_name"], r["segment_assigned_by"]) for r in read(action)} == {
        ("Premium", "rule"),
        ("Manual", "manual"),
    }


def test_an_export_of_rule_members_imports_as_pinned_members(
    tmp_path, as_user, operator, ledger, premium
):
    """The import ignores the column: every member it assigns is assigned by hand."""
    chosen = [
        services.create_account(
            operator, ledger, type="deposit", asset_code="BRL", metadata={"tier": "black"}
        )
        for _ in range(3)
    ]
    target = SegmentFactory(ledger=ledger, name="Platinum")
    body = b"".join(as_user(operator).get(export_url(premium)).streaming_content).decode()
    assert {r["segment_assigned_by"] for r in csv.DictReader(io.StringIO(body))} == {"rule"}
    path = tmp_path / "premium.csv"
    path.write_text(body, encoding="utf-8", newline="")
    out = io.StringIO()
    call_command("import_segment_members", str(target.pk), str(path), stdout=out)
    assert "Assigned 3 account(s)" in out.getvalue()
    moved = Account.objects.filter(pk__in=[a.pk for a in chosen])
    assert {(a.segment_id, a.segment_assigned_by) for a in moved} == {(target.pk, "manual")}
