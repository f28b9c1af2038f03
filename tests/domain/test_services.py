"""The domain rules of shared/spec/domain.md, through the service functions."""

import pytest

from segments import errors, services
from segments.models import Account, HistoryAction, Portfolio, Segment, SegmentHistory, Status
from tests.factories import AccountFactory, LedgerFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- names


def test_segment_name_is_unique_per_ledger_case_insensitively(operator, organization, ledger):
    services.create_segment(operator, ledger, name="Black")
    with pytest.raises(errors.DuplicateSegmentName) as refused:
        services.create_segment(operator, ledger, name="black")
    assert refused.value.code == "0015"
    assert Segment.objects.filter(ledger=ledger).count() == 1


def test_segment_name_is_trimmed_before_the_uniqueness_check(operator, organization, ledger):
    services.create_segment(operator, ledger, name="Black")
    with pytest.raises(errors.DuplicateSegmentName):
        services.create_segment(operator, ledger, name="  BLACK ")


def test_deleted_segment_frees_its_name(operator, admin_user, organization, ledger):
    first = services.create_segment(operator, ledger, name="Black")
    services.delete_segment(admin_user, first)
    again = services.create_segment(operator, ledger, name="black")
    assert again.pk != first.pk


def test_same_name_is_allowed_in_another_ledger_and_at_organization_level(
    operator, organization, ledger
):
    other_ledger = LedgerFactory(organization=organization)
    services.create_segment(operator, ledger, name="Black")
    services.create_segment(operator, other_ledger, name="Black")
    services.create_segment(operator, organization, name="Black")
    with pytest.raises(errors.DuplicateSegmentName):
        services.create_segment(operator, organization, name="BLACK")
    assert Segment.objects.filter(name__iexact="black").count() == 3


def test_segment_name_is_required_and_limited(operator, organization, ledger):
    with pytest.raises(errors.MissingFields) as missing:
        services.create_segment(operator, ledger, name="   ")
    assert missing.value.code == "0009"
    with pytest.raises(errors.InvalidField) as too_long:
        services.create_segment(operator, ledger, name="x" * 257)
    assert "name" in too_long.value.fields


def test_unknown_status_code_is_refused(operator, organization, ledger):
    with pytest.raises(errors.InvalidField) as refused:
        services.create_segment(operator, ledger, name="S", status_code="WHATEVER")
    assert "status_code" in refused.value.fields


# --------------------------------------------------------------------------- membership


def test_account_joins_a_segment_of_its_ledger_or_of_its_organization(
    operator, organization, ledger
):
    ledger_segment = services.create_segment(operator, ledger, name="Black")
    org_segment = services.create_segment(operator, organization, name="Private")
    first = services.create_account(
        operator, ledger, type="deposit", asset_code="BRL", segment_id=ledger_segment.pk
    )
    second = services.create_account(
        operator, ledger, type="deposit", asset_code="BRL", segment_id=str(org_segment.pk)
    )
    assert first.segment_id == ledger_segment.pk
    assert second.segment_id == org_segment.pk


def test_segment_of_another_ledger_or_organization_is_not_found(
    operator, organization, ledger, other_ledger
):
    sibling_ledger = LedgerFactory(organization=organization)
    sibling_segment = SegmentFactory(ledger=sibling_ledger)
    foreign_segment = SegmentFactory(ledger=other_ledger)
    foreign_org_segment = SegmentFactory(ledger=None, organization=other_ledger.organization)
    for segment in (sibling_segment, foreign_segment, foreign_org_segment):
        with pytest.raises(errors.SegmentNotFound) as refused:
            services.create_account(
                operator, ledger, type="deposit", asset_code="BRL", segment_id=segment.pk
            )
        assert refused.value.code == "0036"
    assert not Account.objects.exists()


def test_inactive_segment_refuses_new_members(operator, organization, ledger):
    segment = SegmentFactory(ledger=ledger, status_code=Status.INACTIVE)
    account = AccountFactory(ledger=ledger)
    with pytest.raises(errors.SegmentNotActive) as refused:
        services.update_account(operator, account, {"segment_id": segment.pk})
    assert refused.value.code == "0014"
    with pytest.raises(errors.SegmentNotActive):
        services.assign_members(operator, segment, account_ids=[account.pk])
    account.refresh_from_db()
    assert account.segment_id is None


def test_deleted_segment_is_not_found_for_new_members(operator, organization, ledger):
    segment = SegmentFactory(ledger=ledger)
    services.delete_segment(operator, segment)
    with pytest.raises(errors.SegmentNotFound):
        services.create_portfolio(operator, ledger, name="P", segment_id=segment.pk)


def test_portfolio_and_account_clear_their_segment_with_none(operator, ledger):
    segment = SegmentFactory(ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger, segment=segment)
    account = AccountFactory(ledger=ledger, segment=segment)
    services.update_portfolio(operator, portfolio, {"segment_id": None})
    services.update_account(operator, account, {"segment_id": None})
    assert not Portfolio.objects.filter(segment=segment).exists()
    assert not Account.objects.filter(segment=segment).exists()


def test_bulk_assign_is_all_or_nothing(operator, ledger, other_ledger):
    segment = SegmentFactory(ledger=ledger)
    mine = [AccountFactory(ledger=ledger) for _ in range(3)]
    foreign = AccountFactory(ledger=other_ledger)
    with pytest.raises(errors.InvalidField) as refused:
        services.assign_members(operator, segment, account_ids=[*(a.pk for a in mine), foreign.pk])
    assert str(foreign.pk) in refused.value.message
    assert not Account.objects.filter(segment=segment).exists()
    assert services.assign_members(operator, segment, account_ids=[a.pk for a in mine]) == {
        "accounts": 3,
        "portfolios": 0,
    }
    assert Account.objects.filter(segment=segment).count() == 3


def test_organization_segment_takes_accounts_of_every_ledger_of_its_organization(
    operator, organization, ledger
):
    org_segment = SegmentFactory(ledger=None, organization=organization)
    second_ledger = LedgerFactory(organization=organization)
    accounts = [AccountFactory(ledger=ledger), AccountFactory(ledger=second_ledger)]
    services.assign_members(operator, org_segment, account_ids=[a.pk for a in accounts])
    assert Account.objects.filter(segment=org_segment).count() == 2


def test_remove_members_refuses_ids_that_are_not_members(operator, ledger):
    segment = SegmentFactory(ledger=ledger)
    member_account = AccountFactory(ledger=ledger, segment=segment)
    stranger = AccountFactory(ledger=ledger)
    with pytest.raises(errors.InvalidField):
        services.remove_members(operator, segment, account_ids=[member_account.pk, stranger.pk])
    member_account.refresh_from_db()
    assert member_account.segment_id == segment.pk
    services.remove_members(operator, segment, account_ids=[member_account.pk])
    member_account.refresh_from_db()
    assert member_account.segment_id is None


def test_bulk_calls_take_at_most_ten_thousand_ids(operator, ledger):
    segment = SegmentFactory(ledger=ledger)
    import uuid

    with pytest.raises(errors.InvalidField) as refused:
        services.assign_members(
            operator, segment, account_ids=[uuid.uuid4() for _ in range(10_001)]
        )
    assert "10000" in refused.value.message


# --------------------------------------------------------------------------- delete


def test_delete_refuses_segment_with_members_and_changes_nothing(admin_user, ledger):
    segment = SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, segment=segment)
    PortfolioFactory(ledger=ledger, segment=segment)
    with pytest.raises(errors.SegmentHasMembers) as refused:
        services.delete_segment(admin_user, segment)
    assert refused.value.code == "9001"
    assert "1 account(s) and 1 portfolio(s)" in refused.value.message
    segment.refresh_from_db()
    account.refresh_from_db()
    assert segment.deleted_at is None
    assert account.segment_id == segment.pk
    assert not SegmentHistory.objects.filter(segment=segment).exists()


def test_delete_with_detach_clears_members_and_deletes(admin_user, ledger):
    segment = SegmentFactory(ledger=ledger)
    accounts = [AccountFactory(ledger=ledger, segment=segment) for _ in range(3)]
    deleted_account = AccountFactory(ledger=ledger, segment=segment)
    services.delete_account(admin_user, deleted_account)
    PortfolioFactory(ledger=ledger, segment=segment)
    counts = services.delete_segment(admin_user, segment, detach=True)
    assert counts == {"accounts": 3, "portfolios": 1}
    assert Segment.all_objects.get(pk=segment.pk).deleted_at is not None
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not Account.all_objects.filter(segment=segment).exists()
    assert not Portfolio.all_objects.filter(segment=segment).exists()
    assert all(Account.objects.get(pk=a.pk).segment_id is None for a in accounts)


def test_ledger_with_live_children_cannot_be_deleted(admin_user, organization, ledger):
    segment = SegmentFactory(ledger=ledger)
    with pytest.raises(errors.HasLiveChildren) as refused:
        services.delete_ledger(admin_user, ledger)
    assert refused.value.code == "9002"
    with pytest.raises(errors.HasLiveChildren):
        services.delete_organization(admin_user, organization)
    services.delete_segment(admin_user, segment)
    services.delete_ledger(admin_user, ledger)
    services.delete_organization(admin_user, organization)


def test_children_cannot_be_created_under_a_deleted_ledger(operator, admin_user, ledger):
    services.delete_ledger(admin_user, ledger)
    with pytest.raises(errors.EntityNotFound):
        services.create_account(operator, ledger, type="deposit", asset_code="BRL")


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"a": {"nested": 1}}, errors.NestedMetadata),
        ({"a": [1, 2]}, errors.NestedMetadata),
        ({"k" * 101: "v"}, errors.MetadataKeyTooLong),
        ({"a": "v" * 2001}, errors.MetadataValueTooLong),
    ],
)
def test_metadata_rules(operator, organization, ledger, metadata, error):
    with pytest.raises(error):
        services.create_segment(operator, ledger, name="S", metadata=metadata)
    assert not Segment.objects.exists()


def test_metadata_codes(operator, organization, ledger):
    codes = {}
    for label, metadata in {
        "nested": {"a": {"b": 1}},
        "key": {"k" * 101: 1},
        "value": {"a": "v" * 2001},
    }.items():
        try:
            services.create_segment(operator, ledger, name="S", metadata=metadata)
        except errors.DomainError as exc:
            codes[label] = exc.code
    assert codes == {"nested": "0067", "key": "0050", "value": "0051"}


def test_metadata_allows_at_most_100_keys(operator, organization, ledger):
    services.create_segment(operator, ledger, name="ok", metadata={f"k{i}": i for i in range(100)})
    with pytest.raises(errors.InvalidField):
        services.create_segment(
            operator, ledger, name="S", metadata={f"k{i}": i for i in range(101)}
        )


def test_metadata_update_merges_and_null_removes_a_key(operator, organization, ledger):
    segment = services.create_segment(
        operator, ledger, name="S", metadata={"a": 1, "b": "two", "c": True}
    )
    services.update_segment(operator, segment, {"metadata": {"a": None, "d": 4}})
    segment.refresh_from_db()
    assert segment.metadata == {"b": "two", "c": True, "d": 4}
    services.update_segment(operator, segment, {"metadata": None})
    segment.refresh_from_db()
    assert segment.metadata == {}


# --------------------------------------------------------------------------- history


def _history(segment):
    return list(SegmentHistory.objects.filter(segment=segment).order_by("created_at", "id"))


def test_every_segment_change_leaves_exactly_one_history_entry(
    operator, admin_user, organization, ledger
):
    segment = services.create_segment(operator, ledger, name="Black")
    assert [h.action for h in _history(segment)] == [HistoryAction.CREATED]

    services.update_segment(operator, segment, {"name": "Black Card", "metadata": {"x": 1}})
    entry = _history(segment)[-1]
    assert entry.action == HistoryAction.UPDATED
    assert entry.before == {"name": "Black", "metadata": {}}
    assert entry.after == {"name": "Black Card", "metadata": {"x": 1}}
    assert entry.actor == operator and entry.actor_name == "operator"

    accounts = [AccountFactory(ledger=ledger) for _ in range(2)]
    services.assign_members(operator, segment, account_ids=[a.pk for a in accounts])
    entry = _history(segment)[-1]
    assert entry.action == HistoryAction.MEMBERS_ASSIGNED
    assert entry.after["accounts"] == 2
    assert set(entry.after["accountIds"]) == {str(a.pk) for a in accounts}

    services.remove_members(operator, segment, account_ids=[accounts[0].pk])
    entry = _history(segment)[-1]
    assert entry.action == HistoryAction.MEMBERS_REMOVED
    assert entry.before["accountIds"] == [str(accounts[0].pk)]

    single = services.create_account(
        operator, ledger, type="deposit", asset_code="BRL", segment_id=segment.pk
    )
    assert _history(segment)[-1].after["accountIds"] == [str(single.pk)]

    services.delete_segment(admin_user, segment, detach=True)
    entry = _history(segment)[-1]
    assert entry.action == HistoryAction.DELETED
    assert entry.before["detached"] == {"accounts": 2, "portfolios": 0}
    assert entry.actor == admin_user
    assert len(_history(segment)) == 6


def test_refused_change_writes_no_history(operator, organization, ledger):
    segment = services.create_segment(operator, ledger, name="Black")
    with pytest.raises(errors.NestedMetadata):
        services.update_segment(operator, segment, {"metadata": {"a": {"b": 1}}})
    assert len(_history(segment)) == 1


def test_moving_an_account_records_it_in_both_segments(operator, ledger):
    first, second = SegmentFactory(ledger=ledger), SegmentFactory(ledger=ledger)
    account = AccountFactory(ledger=ledger, segment=first)
    services.update_account(operator, account, {"segment_id": second.pk})
    assert [h.action for h in _history(first)] == [HistoryAction.MEMBERS_REMOVED]
    assert [h.action for h in _history(second)] == [HistoryAction.MEMBERS_ASSIGNED]


# --------------------------------------------------------------------------- accounts


def test_alias_is_unique_among_live_accounts_of_the_ledger(operator, admin_user, ledger):
    first = services.create_account(operator, ledger, type="deposit", asset_code="BRL", alias="@a")
    with pytest.raises(errors.DuplicateAlias) as refused:
        services.create_account(operator, ledger, type="deposit", asset_code="BRL", alias="@a")
    assert refused.value.code == "0020"
    services.delete_account(admin_user, first)
    services.create_account(operator, ledger, type="deposit", asset_code="BRL", alias="@a")


@pytest.mark.parametrize("alias", ["@external/BRL", "has space", "é"])
def test_alias_rules(operator, ledger, alias):
    with pytest.raises(errors.InvalidField):
        services.create_account(operator, ledger, type="deposit", asset_code="BRL", alias=alias)


def test_asset_code_is_upper_case_letters_and_digits(operator, ledger):
    with pytest.raises(errors.InvalidField):
        services.create_account(operator, ledger, type="deposit", asset_code="brl")


def test_portfolio_of_another_ledger_is_not_found(operator, organization, ledger):
    foreign = PortfolioFactory(ledger=LedgerFactory(organization=organization))
    with pytest.raises(errors.PortfolioNotFound) as refused:
        services.create_account(
            operator, ledger, type="deposit", asset_code="BRL", portfolio_id=foreign.pk
        )
    assert refused.value.code == "0035"


def test_parent_account_cycles_are_refused(operator, ledger):
    root = services.create_account(operator, ledger, type="deposit", asset_code="BRL")
    child = services.create_account(
        operator, ledger, type="deposit", asset_code="BRL", parent_account_id=root.pk
    )
    assert child.parent_account_id == root.pk
    with pytest.raises(errors.InvalidField):
        services.create_account(
            operator, ledger, type="deposit", asset_code="BRL", parent_account_id=ledger.pk
        )


def test_unknown_and_read_only_fields_are_refused(operator, organization, ledger):
    with pytest.raises(errors.UnexpectedFields) as refused:
        services.create_segment(operator, ledger, name="S", colour="red")
    assert refused.value.code == "0053"
    account = AccountFactory(ledger=ledger)
    with pytest.raises(errors.UnexpectedFields):
        services.update_account(operator, account, {"asset_code": "USD"})


def test_effective_segment_falls_back_to_the_portfolio(ledger):
    segment = SegmentFactory(ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger, segment=segment)
    account = AccountFactory(ledger=ledger, portfolio=portfolio)
    assert account.effective_segment_id == segment.pk


def test_if_match_must_name_the_current_version(operator, organization, ledger):
    segment = services.create_segment(operator, ledger, name="S")
    tag = services.entity_etag(segment)
    services.update_segment(operator, segment, {"name": "T"}, if_match=tag)
    with pytest.raises(errors.PreconditionFailed):
        services.update_segment(operator, segment, {"name": "U"}, if_match=tag)
