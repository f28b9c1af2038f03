"""Each FilterSet of ``segments.filters``, parameter by parameter, through
``apply_filters`` (what the API lists and the console tabs call): what each parameter
selects, and the domain error (0081, 0082, 0083) for each bad value. The parameters every
list shares are checked on every FilterSet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db.models import Model, QuerySet
from django.http import QueryDict

from segments import errors
from segments.filters import (
    AccountFilterSet,
    EntityFilterSet,
    LedgerFilterSet,
    OrganizationFilterSet,
    PortfolioFilterSet,
    SegmentFilterSet,
    apply_filters,
)
from segments.models import Account, Ledger, Organization, Portfolio, Segment
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Entity:
    filterset: type[EntityFilterSet]
    model: type[Model]
    make: Callable[..., Model]


ENTITIES = {
    "organization": Entity(OrganizationFilterSet, Organization, OrganizationFactory),
    "ledger": Entity(LedgerFilterSet, Ledger, LedgerFactory),
    "segment": Entity(SegmentFilterSet, Segment, SegmentFactory),
    "portfolio": Entity(PortfolioFilterSet, Portfolio, PortfolioFactory),
    "account": Entity(AccountFilterSet, Account, AccountFactory),
}


def ids(filterset: type[EntityFilterSet], params: dict, queryset: QuerySet) -> list:
    """The ids ``apply_filters`` selects, in its order."""
    return list(apply_filters(filterset, params, queryset).values_list("pk", flat=True))


def created_on(obj: Model, when: str) -> Model:
    at = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    type(obj).objects.filter(pk=obj.pk).update(created_at=at)
    return obj


@pytest.fixture(params=sorted(ENTITIES))
def entity(request) -> Entity:
    return ENTITIES[request.param]


# --------------------------------------------------------------------------- every list


def test_creation_window_includes_both_ends(entity):
    before = created_on(entity.make(), "2024-12-31T23:59:59")
    first = created_on(entity.make(), "2025-01-01T00:00:00")
    last = created_on(entity.make(), "2025-01-31T23:59:59")
    after = created_on(entity.make(), "2025-02-01T00:00:00")
    queryset = entity.model.objects.filter(pk__in=[o.pk for o in (before, first, last, after)])
    window = {"start_date": "2025-01-01", "end_date": "2025-01-31"}
    assert ids(entity.filterset, window, queryset) == [first.pk, last.pk]
    to_the_second = {"start_date": "2025-01-01", "end_date": "2025-01-31 23:59:58"}
    assert ids(entity.filterset, to_the_second, queryset) == [first.pk]
    calendar = {"start_date": "0001-01-01", "end_date": "9999-12-31"}
    assert len(ids(entity.filterset, calendar, queryset)) == 4


@pytest.mark.parametrize(
    "window",
    [
        {"start_date": "2025-01-01"},
        {"end_date": "2025-01-01"},
        {"start_date": "2025-02-01", "end_date": "2025-01-01"},
        {"start_date": "01/02/2025", "end_date": "2025-03-01"},
    ],
)
def test_a_bad_creation_window_is_0083(entity, window):
    with pytest.raises(errors.InvalidDateRange):
        ids(entity.filterset, window, entity.model.objects.all())


def test_metadata_key_matches_the_text_of_its_value(entity):
    gold = entity.make(metadata={"tier": "gold", "5": "x"})
    entity.make(metadata={"tier": "black"})
    queryset = entity.model.objects.all()
    assert ids(entity.filterset, {"metadata.tier": "gold"}, queryset) == [gold.pk]
    assert ids(entity.filterset, {"metadata": "tier = gold"}, queryset) == [gold.pk]
    assert ids(entity.filterset, {"metadata.5": "x"}, queryset) == [gold.pk], "a key of digits"
    assert ids(entity.filterset, {"metadata.tier": "silver"}, queryset) == []


@pytest.mark.parametrize("pair", ["tier", "=gold"])
def test_a_console_metadata_filter_without_key_and_value_is_0082(entity, pair):
    with pytest.raises(errors.MalformedQuery):
        ids(entity.filterset, {"metadata": pair}, entity.model.objects.all())


def test_sort_order_orders_by_creation(entity):
    old = created_on(entity.make(), "2025-01-01T00:00:00")
    new = created_on(entity.make(), "2025-06-01T00:00:00")
    queryset = entity.model.objects.filter(pk__in=[old.pk, new.pk])
    assert ids(entity.filterset, {}, queryset) == [old.pk, new.pk]
    assert ids(entity.filterset, {"sort_order": "DESC"}, queryset) == [new.pk, old.pk]
    with pytest.raises(errors.InvalidSortOrder):
        ids(entity.filterset, {"sort_order": "up"}, queryset)
    with pytest.raises(errors.MalformedQuery):
        ids(entity.filterset, {"sort": "colour"}, queryset)


def test_control_characters_are_0082_naming_the_parameter(entity):
    params = QueryDict(mutable=True)
    params.setlist("name", ["fine", "bad\x00"])
    with pytest.raises(errors.MalformedQuery) as raised:
        ids(entity.filterset, params, entity.model.objects.all())
    assert list(raised.value.fields) == ["name"]


# --------------------------------------------------------------------------- per entity


def test_ledger_name_contains_ignoring_case():
    cards = LedgerFactory(name="Credit Cards")
    LedgerFactory(name="Treasury")
    assert ids(LedgerFilterSet, {"name": "cARD"}, Ledger.objects.all()) == [cards.pk]


def test_segment_name_status_search_and_sort():
    ledger = LedgerFactory()
    black = SegmentFactory(ledger=ledger, name="Black card")
    gold = SegmentFactory(ledger=ledger, name="Gold", status_code="INACTIVE")
    queryset = Segment.objects.filter(ledger=ledger)
    assert ids(SegmentFilterSet, {"name": "black"}, queryset) == [black.pk]
    assert ids(SegmentFilterSet, {"status": "inactive"}, queryset) == [gold.pk]
    assert ids(SegmentFilterSet, {"q": "CARD"}, queryset) == [black.pk]
    assert ids(SegmentFilterSet, {"q": f" {gold.pk} "}, queryset) == [gold.pk], "an exact id"
    by_name = {"sort": "name", "sort_order": "desc"}
    assert ids(SegmentFilterSet, by_name, queryset) == [gold.pk, black.pk]
    with pytest.raises(errors.MalformedQuery):
        ids(SegmentFilterSet, {"status": "ASLEEP"}, queryset)


def test_portfolio_segment_name_search_and_sort():
    ledger = LedgerFactory()
    segment = SegmentFactory(ledger=ledger)
    wealth = PortfolioFactory(ledger=ledger, name="Wealth", entity_id="H-77", segment=segment)
    retail = PortfolioFactory(ledger=ledger, name="retail")
    queryset = Portfolio.objects.filter(ledger=ledger)
    assert ids(PortfolioFilterSet, {"segment_id": str(segment.pk)}, queryset) == [wealth.pk]
    assert ids(PortfolioFilterSet, {"segment_id": "none"}, queryset) == [retail.pk]
    assert ids(PortfolioFilterSet, {"name": "WEAL"}, queryset) == [wealth.pk]
    assert ids(PortfolioFilterSet, {"q": "h-77"}, queryset) == [wealth.pk], "the entity id"
    assert ids(PortfolioFilterSet, {"sort": "name"}, queryset) == [retail.pk, wealth.pk]
    with pytest.raises(errors.MalformedQuery):
        ids(PortfolioFilterSet, {"segment_id": "not-a-uuid"}, queryset)


def test_account_references_exact_fields_blocked_search_and_sort():
    ledger = LedgerFactory()
    segment = SegmentFactory(ledger=ledger)
    portfolio = PortfolioFactory(ledger=ledger)
    maria = AccountFactory(ledger=ledger, name="Maria", alias="@maria", segment=segment)
    joao = AccountFactory(
        ledger=ledger,
        name="João",
        alias="@joao",
        type="savings",
        asset_code="USD",
        portfolio=portfolio,
        blocked=True,
    )
    queryset = Account.objects.filter(ledger=ledger)
    assert ids(AccountFilterSet, {"segment_id": str(segment.pk)}, queryset) == [maria.pk]
    assert ids(AccountFilterSet, {"segment_id": "none"}, queryset) == [joao.pk]
    assert ids(AccountFilterSet, {"portfolio_id": str(portfolio.pk)}, queryset) == [joao.pk]
    assert ids(AccountFilterSet, {"portfolio_id": "none"}, queryset) == [maria.pk]
    assert ids(AccountFilterSet, {"alias": "@maria"}, queryset) == [maria.pk]
    assert ids(AccountFilterSet, {"alias": "@mari"}, queryset) == [], "alias is exact"
    assert ids(AccountFilterSet, {"type": "savings"}, queryset) == [joao.pk]
    assert ids(AccountFilterSet, {"asset_code": "USD"}, queryset) == [joao.pk]
    assert ids(AccountFilterSet, {"blocked": " TRUE "}, queryset) == [joao.pk]
    assert ids(AccountFilterSet, {"blocked": "false"}, queryset) == [maria.pk]
    assert ids(AccountFilterSet, {"q": "JOAO"}, queryset) == [joao.pk], "the alias"
    assert ids(AccountFilterSet, {"q": "mar"}, queryset) == [maria.pk], "the name"
    assert ids(AccountFilterSet, {"sort": "alias"}, queryset) == [joao.pk, maria.pk]
    by_name = {"sort": "name", "sort_order": "desc"}
    assert ids(AccountFilterSet, by_name, queryset) == [maria.pk, joao.pk]
    for bad in ({"blocked": "yes"}, {"portfolio_id": "42"}):
        with pytest.raises(errors.MalformedQuery):
            ids(AccountFilterSet, bad, queryset)
