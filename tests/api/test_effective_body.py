"""The effective-benefits answer without serializers (issue #13, performance): the bodies
``effective_bodies`` builds are exactly what ``EffectiveBenefitsSerializer`` yields, and the
resolve (accounts read as plain rows, ``place_accounts``) answers each account as its own
``GET …/accounts/{id}/benefits`` does."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from segments import services
from segments.api.benefit_serializers import (
    EffectiveBenefitsSerializer,
    effective_bodies,
    effective_data,
)
from segments.api.renderers import FastJSONRenderer
from segments.effective_benefits import EFFECTIVE_JOINS, effective_benefits
from segments.models import Account, Benefit, Portfolio, Role, Status
from tests.api.test_benefits import CASHBACK, LOUNGE
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

LOUNGE = {
    **LOUNGE,
    "parameters": {**LOUNGE["parameters"], "allowance": {"count": 4, "period": "year"}},
}


@pytest.fixture
def world(client_for):
    """A ledger segment with every kind of answer (applied, grouped winner and loser,
    expired, not yet valid, inactive), an organization segment, and accounts placed every
    way: own segment, portfolio's segment, deleted portfolio, none."""
    now = timezone.now()
    ledger = LedgerFactory()
    black = SegmentFactory(ledger=ledger, name="Black")
    group = SegmentFactory(ledger=None, organization=ledger.organization, name="Group")
    operator = UserFactory(username="operator")
    member(operator, ledger.organization, Role.OPERATOR)
    for name, fields in (
        ("Lounge", LOUNGE),
        ("Launch", {**CASHBACK, "valid_until": now - dt.timedelta(days=1)}),
        ("Next year", {**LOUNGE, "valid_from": now + dt.timedelta(days=365)}),
        ("Paused", {**LOUNGE, "status_code": Status.INACTIVE}),
        ("Gold", {**CASHBACK, "exclusivity_group": "rate", "priority": 1}),
        ("Silver", {**CASHBACK, "exclusivity_group": "rate", "priority": 2}),
    ):
        services.create_benefit(operator, black, name=name, **fields)
    services.create_benefit(operator, group, name="Group lounge", **LOUNGE)
    portfolio = PortfolioFactory(ledger=ledger, segment=group)
    gone = PortfolioFactory(ledger=ledger, segment=black)
    accounts = [
        AccountFactory(ledger=ledger, segment=black),
        AccountFactory(ledger=ledger, segment=group, portfolio=gone),
        AccountFactory(ledger=ledger, portfolio=portfolio),
        AccountFactory(ledger=ledger, portfolio=gone),
        AccountFactory(ledger=ledger),
    ]
    Portfolio.all_objects.filter(pk=gone.pk).update(deleted_at=now)
    return {
        "api": client_for(operator),
        "url": f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}",
        "accounts": accounts,
        "portfolio": portfolio,
    }


def _reference(answers, subject_key: str) -> list[dict]:
    return [EffectiveBenefitsSerializer(effective_data(a, subject_key)).data for a in answers]


def test_the_bodies_are_what_the_serializer_yields(world):
    ids = [account.pk for account in world["accounts"]]
    accounts = Account.objects.filter(pk__in=ids).select_related(*EFFECTIVE_JOINS[Account])
    for subjects, key in (
        (sorted(accounts, key=lambda a: ids.index(a.pk)), "accountId"),
        (
            [Portfolio.objects.select_related("segment").get(pk=world["portfolio"].pk)],
            "portfolioId",
        ),
    ):
        answers = effective_benefits(subjects)
        fast, reference = effective_bodies(answers, key), _reference(answers, key)
        assert json.loads(json.dumps(fast)) == json.loads(json.dumps(reference))
        assert [list(body) for body in fast] == [list(body) for body in reference]  # key order
        items = [item for body in fast for item in body["items"] + body["notApplied"]]
        assert [list(item) for item in items] == [
            list(item) for body in reference for item in body["items"] + body["notApplied"]
        ]
        assert FastJSONRenderer().render(fast) == JSONRenderer().render(fast)
    [of_portfolio] = fast
    assert of_portfolio["portfolioId"] == str(world["portfolio"].pk)
    assert of_portfolio["segment"]["level"] == "organization"
    assert [item["name"] for item in of_portfolio["items"]] == ["Group lounge"]


def test_resolve_answers_each_account_as_its_own_route_does(world):
    at = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    ids = [str(account.pk) for account in world["accounts"]]
    resolved = world["api"].post(
        f"{world['url']}/accounts/benefits/resolve", {"accountIds": ids, "at": at}, format="json"
    )
    assert resolved.status_code == 200, resolved.content
    one_by_one = [
        world["api"].get(f"{world['url']}/accounts/{pk}/benefits", {"at": at}).json() for pk in ids
    ]
    assert resolved.json()["items"] == one_by_one
    vias = [body["segment"] and body["segment"]["resolvedVia"] for body in one_by_one]
    assert vias == ["account", "account", "portfolio", None, None]
    [own] = [body for body in one_by_one if body["segment"] and body["segment"]["name"] == "Black"]
    reasons = sorted(item["reason"].split(":")[0] for item in own["notApplied"])
    assert reasons == ["expired", "inactive", "notYetValid", "outrankedBy"]


def test_an_answers_benefit_is_the_benefit_and_one_segments_answers_share_their_choice(world):
    black = world["accounts"][0]
    twin = AccountFactory(ledger=black.ledger, segment=black.segment)
    accounts = Account.objects.filter(pk__in=[black.pk, twin.pk]).select_related(
        *EFFECTIVE_JOINS[Account]
    )
    first, second = effective_benefits(accounts)
    assert first.items is second.items and first.not_applied is second.not_applied
    for candidate in first.items + [skipped.benefit for skipped in first.not_applied]:
        stored = Benefit.objects.get(pk=candidate.pk)
        assert (candidate.benefit.pk, candidate.benefit.name) == (stored.pk, stored.name)
        assert candidate.benefit.segment_id == black.segment_id
        assert candidate.benefit.description == stored.description  # read when asked
