"""Member counters of segments (``account_count`` / ``portfolio_count``) stay exact through
every write path: the services, bulk updates, raw SQL, and concurrent moves. They are kept
by database triggers (``segments.counters``), so each test compares them with a COUNT."""

from __future__ import annotations

import random

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction

from segments import selectors, services
from segments.models import Account, Portfolio, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    UserFactory,
    member,
)
from tests.testing.threads import at_once


def assert_exact(*segments: Segment) -> None:
    for segment in segments:
        stored = Segment.all_objects.values_list("account_count", "portfolio_count").get(
            pk=segment.pk
        )
        counted = (
            Account.objects.filter(segment_id=segment.pk).count(),
            Portfolio.objects.filter(segment_id=segment.pk).count(),
        )
        assert stored == counted, f"{segment.name}: stored {stored}, counted {counted}"


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def scope(user):
    ledger = LedgerFactory(organization=OrganizationFactory())
    make = lambda name: services.create_segment(user, ledger, name=name)  # noqa: E731
    return ledger, make("A"), make("B")


@pytest.mark.django_db
def test_counters_follow_every_service(user, scope):
    ledger, a, b = scope
    org_segment = services.create_segment(user, ledger.organization, name="Org")
    assert_exact(a, b, org_segment)

    account = services.create_account(
        user, ledger, type="deposit", asset_code="BRL", segment_id=a.pk
    )
    portfolio = services.create_portfolio(user, ledger, name="P", segment_id=a.pk)
    plain = [
        services.create_account(user, ledger, type="deposit", asset_code="BRL") for _ in range(5)
    ]
    assert_exact(a, b)
    assert Segment.objects.get(pk=a.pk).account_count == 1

    services.update_account(user, account, {"segment_id": b.pk})  # move
    services.update_portfolio(user, portfolio, {"segment_id": b.pk})
    assert_exact(a, b)
    services.update_account(user, account, {"metadata": {"k": "v"}})  # no move
    services.update_account(user, account, {"segment_id": org_segment.pk})
    assert_exact(a, b, org_segment)
    services.update_account(user, account, {"segment_id": None})
    assert_exact(org_segment)

    services.assign_members(
        user, a, account_ids=[p.pk for p in plain], portfolio_ids=[portfolio.pk]
    )
    assert_exact(a, b)
    services.remove_members(user, a, account_ids=[plain[0].pk])
    assert_exact(a)
    services.clear_segments(user, ledger, account_ids=[plain[1].pk])
    assert_exact(a)

    services.delete_account(user, Account.objects.get(pk=plain[2].pk))  # soft delete leaves
    assert_exact(a)
    Account.all_objects.filter(pk=plain[2].pk).update(deleted_at=None)  # an undelete, raw
    assert_exact(a)

    if connection.vendor == "postgresql":  # its single statement is PostgreSQL SQL
        moved = services.assign_accounts_matching(user, b, Account.objects.filter(ledger=ledger))
        assert moved["accounts"] >= 5
    else:
        services.assign_members(user, b, account_ids=Account.objects.values_list("pk", flat=True))
    assert_exact(a, b)

    counts = services.delete_segment(user, Segment.objects.get(pk=b.pk), detach=True)
    assert counts["accounts"] >= 5
    b.refresh_from_db()
    assert (b.account_count, b.portfolio_count) == (0, 0)
    services.restore_segment(user, b)
    assert_exact(a, b)


@pytest.mark.django_db
def test_saving_a_segment_never_writes_its_counters(user, scope):
    ledger, a, _ = scope
    stale = Segment.objects.get(pk=a.pk)  # read before the members arrive
    AccountFactory.create_batch(3, ledger=ledger, segment=a)
    stale.description = "edited"
    stale.save()
    services.update_segment(user, stale, {"name": "A2"})
    assert_exact(a)
    assert Segment.objects.get(pk=a.pk).account_count == 3


@pytest.mark.django_db
def test_counters_follow_raw_sql_and_hard_deletes(scope):
    ledger, a, b = scope
    accounts = AccountFactory.create_batch(4, ledger=ledger, segment=a)
    PortfolioFactory.create_batch(2, ledger=ledger, segment=b)
    Account.all_objects.filter(pk__in=[x.pk for x in accounts[:3]]).update(segment=b)
    assert_exact(a, b)
    Account.all_objects.filter(pk=accounts[3].pk).delete()
    Portfolio.all_objects.filter(segment=b).update(deleted_at=accounts[0].created_at)
    assert_exact(a, b)


@pytest.mark.django_db
def test_member_counts_reads_the_counters_and_counts_accounts_reached(user, scope):
    ledger, a, _ = scope
    AccountFactory.create_batch(2, ledger=ledger, segment=a)
    portfolio = PortfolioFactory(ledger=ledger, segment=a)
    AccountFactory.create_batch(3, ledger=ledger, portfolio=portfolio)
    member(user, ledger.organization)
    assert selectors.member_counts(a) == {"accounts": 2, "portfolios": 1, "accounts_reached": 5}
    listed = selectors.list_segments(user, ledger.organization, ledger, {})
    assert {s.name: (s.account_count, s.portfolio_count) for s in listed} == {
        "A": (2, 1),
        "B": (0, 0),
    }


@pytest.mark.django_db
def test_recount_segments_repairs_drift(scope):
    ledger, a, b = scope
    AccountFactory.create_batch(3, ledger=ledger, segment=a)
    Segment.all_objects.filter(pk=a.pk).update(account_count=42)
    Segment.all_objects.filter(pk=b.pk).update(portfolio_count=-1)
    with pytest.raises(Exception, match="2 segment"):
        call_command("recount_segments", "--check")
    call_command("recount_segments")
    assert_exact(a, b)
    call_command("recount_segments", "--check")


# --------------------------------------------------------------------------- concurrency


def _deadlock(exc: Exception) -> bool:
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "40P01"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_keep_counters_exact():
    user = UserFactory()
    ledger = LedgerFactory(organization=OrganizationFactory())
    segments = [services.create_segment(user, ledger, name=f"S{i}") for i in range(3)]
    accounts = [AccountFactory(ledger=ledger, segment=segments[i % 3]) for i in range(60)]
    portfolios = [PortfolioFactory(ledger=ledger, segment=segments[i % 3]) for i in range(12)]
    assert_exact(*segments)

    def work(index: int) -> int:
        rng = random.Random(index)
        mine = accounts[index::6]
        done = 0
        for step in range(12):
            target = segments[rng.randrange(3)]
            for _attempt in range(5):
                try:
                    if step % 4 == 0:
                        services.assign_members(user, target, account_ids=[x.pk for x in mine[:3]])
                    elif step % 4 == 1:
                        services.update_portfolio(
                            user, portfolios[index * 2 + step % 2], {"segment_id": target.pk}
                        )
                    elif step % 4 == 2:
                        with transaction.atomic():
                            services.assign_accounts_matching(
                                user, target, Account.objects.filter(pk__in=[x.pk for x in mine])
                            )
                    else:
                        account = Account.objects.get(pk=rng.choice(mine).pk)
                        services.update_account(user, account, {"segment_id": target.pk})
                    done += 1
                    break
                except OperationalError as exc:  # a deadlock rolls back one side: retry it
                    if not _deadlock(exc):
                        raise
        return done

    results = at_once(6, work)
    assert all(isinstance(r, int) for r in results), results
    assert_exact(*segments)
    assert sum(s.account_count for s in Segment.objects.filter(ledger=ledger)) == 60
    assert sum(s.portfolio_count for s in Segment.objects.filter(ledger=ledger)) == 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_generated_load_data_has_exact_counters():
    from io import StringIO

    call_command(
        "generate_load_data",
        organizations=2,
        ledgers=4,
        segments=30,
        accounts=1500,
        portfolios=60,
        big_segment_size=400,
        no_progress=True,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    big = Segment.objects.get(name="Retail mass market")
    assert big.account_count == 400
    assert_exact(*Segment.all_objects.all())
    call_command("recount_segments", "--check", stdout=StringIO())
