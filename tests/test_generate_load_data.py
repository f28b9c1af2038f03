"""``generate_load_data`` at small scale: the shape the benchmark relies on, and the
rules of the domain kept by rows that never went through the services."""

from __future__ import annotations

import uuid
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from segments.benefit_kinds import validate_parameters
from segments.models import (
    Account,
    ApiToken,
    Benefit,
    BenefitVersion,
    Ledger,
    Membership,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
    Status,
)
from segments.models.benefits import VERSIONED_FIELDS
from segments.services.benefits import refuse_ambiguity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SMALL = {
    "organizations": 2,
    "ledgers": 6,
    "segments": 60,
    "accounts": 2000,
    "portfolios": 100,
    "big_segment_size": 600,
    "no_progress": True,
}


def _generate(**overrides) -> str:
    out = StringIO()
    call_command("generate_load_data", stdout=out, stderr=StringIO(), **(SMALL | overrides))
    return out.getvalue()


def test_it_loads_the_requested_counts_with_a_big_segment_and_a_token():
    output = _generate()
    assert Organization.objects.count() == 2
    assert Ledger.objects.count() == 6
    assert Segment.all_objects.count() == 60
    assert Account.all_objects.count() == 2000
    assert Portfolio.all_objects.count() == 100
    big = Segment.objects.get(name="Retail mass market")
    assert big.ledger_id is not None
    assert Account.objects.filter(segment=big).count() == 600
    assert Segment.objects.filter(ledger__isnull=True).exists()
    token = output.split("API token (user bench): ")[1].split()[0]
    found = ApiToken.objects.get(token_hash=ApiToken.hash(token))
    assert found.user.username == "bench"
    roles = set(Membership.objects.filter(user=found.user).values_list("role", flat=True))
    assert roles == {Role.ADMIN}
    assert Membership.objects.filter(user=found.user).count() == 2
    assert "peak RSS" in output


def test_ids_are_uuid7_stamped_with_created_at_and_increase_with_it():
    _generate()
    rows = list(Account.all_objects.order_by("id").values_list("id", "created_at"))
    assert all(pk.version == 7 for pk, _ in rows)
    assert all((pk.int >> 80) == int(created.timestamp() * 1000) for pk, created in rows[:50])
    created = [when for _, when in rows]
    assert created == sorted(created)


def test_the_shape_is_skewed_with_metadata_and_soft_deletes():
    _generate(accounts=3000, big_segment_size=0)
    sizes = sorted(
        Account.objects.exclude(segment=None)
        .values("segment")
        .annotate(n=Count("id"))
        .values_list("n", flat=True),
        reverse=True,
    )
    assert sizes[0] >= 5 * sizes[len(sizes) // 2]
    with_metadata = Account.all_objects.exclude(metadata={}).count()
    assert 700 < with_metadata < 1300
    assert Account.all_objects.filter(deleted_at__isnull=False).exists()


def test_the_domain_rules_hold():
    _generate()
    # No member of a deleted segment, and members belong to the segment's scope.
    assert not Account.all_objects.filter(segment__deleted_at__isnull=False).exists()
    assert not Portfolio.all_objects.filter(segment__deleted_at__isnull=False).exists()
    for account in Account.objects.exclude(segment=None).select_related("segment")[:300]:
        segment = account.segment
        assert segment.organization_id == account.organization_id
        assert segment.ledger_id in (None, account.ledger_id)
    # Portfolios and parents are live rows of the same ledger.
    assert not Account.objects.filter(portfolio__deleted_at__isnull=False).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM segments_account a JOIN segments_portfolio p "
            "ON p.id = a.portfolio_id WHERE p.ledger_id <> a.ledger_id"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM segments_account a JOIN segments_account p "
            "ON p.id = a.parent_account_id WHERE p.ledger_id <> a.ledger_id "
            "OR p.created_at >= a.created_at"
        )
        assert cursor.fetchone()[0] == 0
    # The partial unique indexes were rebuilt (and so checked) after the load.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'segments_segment' "
            "AND indexname LIKE 'segment_name_unique%%'"
        )
        assert len(cursor.fetchall()) == 2
    # One "created" history entry per segment, one "deleted" per deleted segment.
    assert SegmentHistory.objects.filter(action="created").count() == 60
    assert (
        SegmentHistory.objects.filter(action="deleted").count()
        == Segment.all_objects.filter(deleted_at__isnull=False).count()
    )
    assert all(
        isinstance(pk, uuid.UUID) and pk.version == 7
        for pk in SegmentHistory.objects.values_list("id", flat=True)
    )


def test_it_refuses_to_load_over_existing_data_without_reset():
    _generate()
    with pytest.raises(CommandError, match="--reset"):
        _generate()
    _generate(reset=True, accounts=1000, big_segment_size=100)
    assert Account.all_objects.count() == 1000


def test_it_refuses_a_database_other_than_postgresql(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        _generate()


def test_generated_members_can_be_bulk_assigned_by_filter_with_one_history_entry():
    """The bench's bulk scenario: ``assign_accounts_matching`` moves every matching account
    of the segment's scope in one transaction, recording one entry on the target (and one
    "removed" entry per segment the accounts came from); accounts of other ledgers in the
    queryset are left out."""
    from segments import errors, services
    from segments.models import HistoryAction, Status

    _generate()
    bench = Membership.objects.select_related("user").first().user
    big = Segment.objects.get(name="Retail mass market")
    target = services.create_segment(bench, big.ledger, name="Bulk target")
    chosen = Account.objects.filter(segment=big).order_by("created_at", "id")[:300]
    cut = chosen[299].created_at
    other_ledger = Account.objects.exclude(ledger_id=big.ledger_id).values("pk")[:5]
    matching = Account.objects.filter(segment=big, created_at__lte=cut) | Account.objects.filter(
        pk__in=other_ledger
    )

    result = services.assign_accounts_matching(bench, target, matching)

    assert result == {"accounts": 300, "portfolios": 0}
    assert Account.objects.filter(segment=target).count() == 300
    assert Account.objects.filter(segment=big).count() == 300
    assigned = SegmentHistory.objects.filter(segment=target, action=HistoryAction.MEMBERS_ASSIGNED)
    assert [entry.after["accounts"] for entry in assigned] == [300]
    assert len(assigned[0].after["accountIds"]) == 100
    removed = SegmentHistory.objects.filter(segment=big, action=HistoryAction.MEMBERS_REMOVED)
    assert [entry.before["accounts"] for entry in removed] == [300]

    services.update_segment(bench, target, {"status_code": Status.INACTIVE})
    with pytest.raises(errors.SegmentNotActive):
        services.assign_accounts_matching(bench, target, Account.objects.all())


# --------------------------------------------------------------------------- benefits


def test_every_live_segment_has_benefits_valid_for_their_kind_each_with_its_first_version():
    _generate()
    live_segments = Segment.objects.count()
    per_segment = Counter(Benefit.all_objects.values_list("segment_id", flat=True))
    assert set(per_segment) == set(Segment.objects.values_list("id", flat=True))
    assert set(per_segment.values()) <= {1, 2, 3, 4, 5}
    assert 2.5 <= sum(per_segment.values()) / live_segments <= 3.5
    versions = {version.benefit_id: version for version in BenefitVersion.objects.all()}
    benefits = list(Benefit.all_objects.select_related("segment"))
    assert len(versions) == len(benefits) == BenefitVersion.objects.count()
    for benefit in benefits:
        assert validate_parameters(benefit.kind, benefit.parameters) == benefit.parameters
        assert benefit.version == 1 and benefit.deleted_at is None
        segment = benefit.segment
        assert (benefit.organization_id, benefit.ledger_id) == (
            segment.organization_id,
            segment.ledger_id,
        )
        assert benefit.created_at > segment.created_at and benefit.pk.version == 7
        version = versions[benefit.pk]
        assert version.version == 1 and version.created_at == benefit.created_at
        assert all(getattr(version, name) == getattr(benefit, name) for name in VERSIONED_FIELDS)
        assert version.actor.username == "bench"
    created = SegmentHistory.objects.filter(action="benefit_created")
    assert created.count() == len(benefits)
    first = created.select_related("segment").first()
    assert Benefit.objects.get(pk=first.after["benefitId"]).segment_id == first.segment_id


def test_names_are_unique_per_segment_and_no_two_active_benefits_are_ambiguous():
    _generate()
    names = Counter(
        (segment, name.lower()) for segment, name in Benefit.objects.values_list("segment", "name")
    )
    assert max(names.values()) == 1
    grouped = Benefit.objects.filter(status_code=Status.ACTIVE, exclusivity_group__isnull=False)
    assert grouped.exists()
    for benefit in grouped:
        refuse_ambiguity(benefit)  # the services' 9012 rule: raises when ambiguous
    pairs = Counter(grouped.values_list("segment", "exclusivity_group"))
    assert set(pairs.values()) == {2}


def test_the_benefits_are_mixed_in_kind_window_and_status():
    _generate()
    now = timezone.now()
    assert set(Benefit.objects.values_list("kind", flat=True)) == {
        "feeWaiver", "feeDiscount", "cashback", "rateBonus", "pointsMultiplier", "service",
        "custom",
    }  # fmt: skip
    assert Benefit.objects.filter(valid_until__lte=now).exists()
    assert Benefit.objects.filter(valid_from__gt=now).exists()
    assert Benefit.objects.filter(status_code=Status.INACTIVE).exists()
    assert Benefit.objects.filter(valid_from=None, valid_until=None).exists()


def test_a_member_of_the_big_segment_gets_its_benefits_with_an_outranked_and_an_expired_one():
    output = _generate()
    token = output.split("API token (user bench): ")[1].split()[0]
    big = Segment.objects.get(name="Retail mass market")
    account = Account.objects.filter(segment=big).first()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/v1/organizations/{big.organization_id}/ledgers/{big.ledger_id}"
    answer = client.get(f"{url}/accounts/{account.pk}/benefits")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["segment"]["id"] == str(big.pk)
    reasons = sorted(item["reason"].split(":")[0] for item in body["notApplied"])
    assert reasons == ["expired", "inactive", "notYetValid", "outrankedBy"]
    assert len(body["items"]) == 1
    [winner] = body["items"]
    assert winner["exclusivityGroup"] and winner["priority"] == 10


def test_benefits_per_segment_can_be_zero_and_not_negative():
    _generate(benefits_per_segment=0, big_segment_size=0)
    assert not Benefit.all_objects.exists() and not BenefitVersion.objects.exists()
    with pytest.raises(CommandError, match="--benefits-per-segment"):
        _generate(reset=True, benefits_per_segment=-1)


def test_rules_are_attached_with_one_refresh_which_the_worker_runs_to_their_members():
    from segments.models import RuleRefresh, SegmentRule
    from segments.rules import evaluate, parse_rule, row_values
    from tests.testing.worker import run_worker

    output = _generate(rules=5)
    assert "5 dynamic segments" in output
    refresh = RuleRefresh.objects.get()  # one refresh for the five rules, not one each
    assert (refresh.cause, refresh.status) == ("bulk", "queued")
    rules = list(SegmentRule.objects.order_by("priority"))
    assert [rule.priority for rule in rules] == [1, 2, 3, 4, 5]
    parsed = [(rule.segment_id, parse_rule(rule.expression, "account")) for rule in rules]
    ledger_accounts = Account.objects.filter(ledger_id=refresh.ledger_id)
    expected = {}
    movable = ledger_accounts.filter(segment__isnull=True, deleted_at__isnull=True)
    for account in movable.select_related("portfolio"):
        values = row_values(account)
        winner = next((pk for pk, rule in parsed if evaluate(rule, values)), None)
        if winner:
            expected[account.pk] = winner
    run_worker()
    refresh.refresh_from_db()
    assert refresh.status == "done", refresh.error
    taken = dict(ledger_accounts.filter(segment_assigned_by="rule").values_list("pk", "segment_id"))
    assert taken and taken == expected
    assert refresh.added == len(expected)
