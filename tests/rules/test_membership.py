"""The members rules make (issue #14): the evaluation through the services — a refresh
writes only what changes (a second one changes nothing and emits nothing), pins hold,
the lowest priority wins, the member counters stay exact, every move is in the history
with its events, and the on-write evaluation costs the same queries with one rule or
fifty."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments import services
from segments.models import (
    Account,
    AssignedBy,
    Event,
    RuleRefresh,
    Segment,
    SegmentHistory,
    SegmentRule,
)
from tests.factories import AccountFactory, LedgerFactory, PortfolioFactory, SegmentFactory
from tests.testing.worker import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def segment_of(account) -> tuple:
    row = Account.objects.get(pk=account.pk)
    return row.segment_id, row.segment_assigned_by


def finished(refresh: RuleRefresh) -> RuleRefresh:
    """``refresh`` once the worker ran what is queued."""
    run_worker()
    refresh.refresh_from_db()
    assert refresh.status == "done", refresh.error
    return refresh


def refresh_scope(organization_id, ledger_id=None) -> RuleRefresh:
    """A refresh of the scope, run by the worker; the refresh as it ended."""
    return finished(services.enqueue_refresh(None, organization_id, ledger_id, cause="requested"))


@pytest.fixture
def ledger():
    return LedgerFactory()


def test_a_refresh_writes_only_changes_and_a_second_one_changes_nothing(ledger):
    segment = SegmentFactory(ledger=ledger)
    black = [AccountFactory(ledger=ledger, metadata={"tier": "black"}) for _ in range(3)]
    AccountFactory(ledger=ledger, metadata={"tier": "gold"})
    pinned = AccountFactory(
        ledger=ledger, metadata={"tier": "black"}, segment=SegmentFactory(ledger=ledger)
    )
    Account.objects.filter(pk=pinned.pk).update(segment_assigned_by=AssignedBy.MANUAL)
    rule = services.put_rule(None, segment, 'metadata.tier == "black"', "account", 1)
    first = finished(rule.refresh)
    assert (first.added, first.removed, first.scanned) == (3, 0, 5)
    assert all(segment_of(a) == (segment.pk, AssignedBy.RULE) for a in black)
    assert segment_of(pinned)[1] == AssignedBy.MANUAL
    segment.refresh_from_db()
    assert segment.account_count == 3
    events, history = Event.objects.count(), SegmentHistory.objects.count()
    second = refresh_scope(ledger.organization_id, ledger.pk)
    assert (second.added, second.removed) == (0, 0)
    assert (Event.objects.count(), SegmentHistory.objects.count()) == (events, history)


def test_moves_are_counted_in_the_history_with_rule_events(ledger):
    segment = SegmentFactory(ledger=ledger)
    for _ in range(2):
        AccountFactory(ledger=ledger, metadata={"tier": "black"})
    services.put_rule(None, segment, 'metadata.tier == "black"', "account", 1)
    refresh_scope(ledger.organization_id, ledger.pk)
    entry = SegmentHistory.objects.filter(segment=segment, action="members_assigned").get()
    assert entry.after["accounts"] == 2
    event = Event.objects.filter(subject=str(segment.pk), key="segment.members.changed").get()
    assert event.data["cause"] == "rule"


def test_the_lowest_priority_wins_and_portfolios_have_rules_too(ledger):
    low, high = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, metadata={"tier": "black"})
    services.put_rule(None, high, "!blocked", "account", 7)
    services.put_rule(None, low, 'metadata.tier == "black"', "account", 3)
    portfolio_segment = SegmentFactory(ledger=None, organization=ledger.organization)
    portfolio = PortfolioFactory(ledger=ledger, metadata={"program": "student"})
    services.put_rule(None, portfolio_segment, "has(metadata.program)", "portfolio", 4)
    refresh_scope(ledger.organization_id)
    assert segment_of(account)[0] == low.pk
    portfolio.refresh_from_db()
    assert (portfolio.segment_id, portfolio.segment_assigned_by) == (portfolio_segment.pk, "rule")


def test_an_account_rule_on_portfolio_metadata_follows_a_portfolio_write(ledger):
    segment = SegmentFactory(ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, portfolio=portfolio)
    services.put_rule(None, segment, 'portfolio.metadata.program == "student"', "account", 1)
    services.update_portfolio(None, portfolio, {"metadata": {"program": "student"}})
    assert segment_of(account) == (segment.pk, AssignedBy.RULE)


def test_a_rule_of_a_deleted_or_inactive_segment_takes_nobody(ledger):
    segment = SegmentFactory(ledger=ledger, status_code="INACTIVE")
    services.put_rule(None, segment, "!blocked", "account", 1)
    account = services.create_account(None, ledger, type="deposit", asset_code="BRL")
    assert account.segment_id is None


def _accounts_written_with(ledger, rules: int) -> int:
    for number in range(rules):
        segment = SegmentFactory(ledger=ledger)
        SegmentRule.objects.create(
            segment=segment,
            organization_id=ledger.organization_id,
            ledger=ledger,
            expression=f'metadata.tier == "t{number}"',
            subject="account",
            priority=1000 + number,
            actor_name="test",
        )
    account = services.create_account(None, ledger, type="deposit", asset_code="BRL")
    target = f"t{rules - 1}"
    with CaptureQueriesContext(connection) as queries:
        account = services.update_account(None, account, {"metadata": {"tier": target}})
    assert Segment.objects.get(pk=account.segment_id).rule.priority == 1000 + rules - 1
    return len(queries)


def test_the_on_write_evaluation_costs_the_same_queries_with_one_rule_or_fifty():
    one = _accounts_written_with(LedgerFactory(), 1)
    fifty = _accounts_written_with(LedgerFactory(), 50)
    assert one == fifty


def test_deleting_a_dynamic_segment_deletes_its_rule_and_frees_its_priority(ledger):
    segment = SegmentFactory(ledger=ledger)
    services.put_rule(None, segment, "!blocked", "account", 1)
    services.delete_segment(None, segment, detach=True)
    assert not SegmentRule.objects.exists()
    entry = SegmentHistory.objects.filter(segment=segment, action="deleted").get()
    assert entry.before["ruleDeleted"]["priority"] == 1
    services.put_rule(None, SegmentFactory(ledger=ledger), "!blocked", "account", 1)
