"""Races that only a real database can referee: PostgreSQL, real connections, threads."""

import pytest

from segments import errors, services
from segments.models import Account, Segment
from tests.factories import AccountFactory, LedgerFactory, OrganizationFactory, UserFactory
from tests.testing.threads import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_creates_of_one_name_let_exactly_one_win():
    ledger = LedgerFactory(organization=OrganizationFactory())
    user = UserFactory()
    results = at_once(
        20,
        lambda i: services.create_segment(user, ledger, name="Black" if i % 2 else "BLACK"),
    )
    created = [r for r in results if isinstance(r, Segment)]
    refused = [r for r in results if isinstance(r, errors.DuplicateSegmentName)]
    assert len(created) == 1, results
    assert len(refused) == 19, results
    assert Segment.objects.filter(ledger=ledger).count() == 1


def test_concurrent_assign_and_delete_never_leave_a_member_of_a_deleted_segment():
    ledger = LedgerFactory(organization=OrganizationFactory())
    user = UserFactory()
    for _round in range(5):
        segment = services.create_segment(user, ledger, name=f"S{_round}")
        accounts = [AccountFactory(ledger=ledger) for _ in range(50)]

        def work(index, segment=segment, accounts=accounts):
            if index == 0:
                return services.delete_segment(user, segment)
            return services.assign_members(
                user, segment, account_ids=[a.pk for a in accounts[index::2]]
            )

        results = at_once(2, work)
        deleted = Segment.all_objects.get(pk=segment.pk).deleted_at is not None
        members = Account.all_objects.filter(segment=segment).count()
        if deleted:
            assert members == 0, results
        else:
            assert isinstance(results[0], errors.SegmentHasMembers), results
            assert members == 25
