"""The fast list rendering of the API (``segments.api.rows`` + ``FastJSONRenderer``) yields
exactly what the output serializers and DRF's JSON renderer yield."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from segments.api.renderers import FastJSONRenderer
from segments.api.rows import ACCOUNT_ROWS, PORTFOLIO_ROWS, SEGMENT_ROWS
from segments.api.serializers import AccountSerializer, PortfolioSerializer, SegmentSerializer
from segments.models import Account, Portfolio, Segment
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def _same(model, rows, serializer) -> None:
    objects = list(model.all_objects.order_by("created_at", "id"))
    values = list(model.all_objects.order_by("created_at", "id").values(*rows.columns))
    fast = rows.items(values)
    reference = serializer(objects, many=True).data
    rendered = FastJSONRenderer().render({"items": fast})
    assert json.loads(rendered) == json.loads(json.dumps({"items": reference}))
    assert [list(item) for item in fast] == [list(item) for item in reference]  # key order
    assert rendered == JSONRenderer().render({"items": reference})  # byte for byte


def test_rows_match_the_serializers(ledger):
    segment = SegmentFactory(ledger=ledger, description=None, metadata={"tier": "black", "n": 1})
    SegmentFactory(ledger=None, organization=ledger.organization, status_description="why")
    deleted = SegmentFactory(ledger=ledger, name="Old")
    Segment.all_objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    portfolio = PortfolioFactory(ledger=ledger, segment=segment, entity_id="E-1")
    PortfolioFactory(ledger=ledger, entity_id=None, metadata={"ç": "ü\u2028"})
    AccountFactory(ledger=ledger, segment=segment, portfolio=portfolio, name=None, alias=None)
    parent = AccountFactory(ledger=ledger, alias="@parent", blocked=True)
    AccountFactory(ledger=ledger, parent_account=parent, metadata={"big": 1.5e300, "b": False})
    Account.all_objects.filter(pk=parent.pk).update(
        created_at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    )
    _same(Segment, SEGMENT_ROWS, SegmentSerializer)
    _same(Portfolio, PORTFOLIO_ROWS, PortfolioSerializer)
    _same(Account, ACCOUNT_ROWS, AccountSerializer)


def test_fast_renderer_leaves_what_orjson_renders_differently_to_drf():
    renderer = FastJSONRenderer()
    for data in (
        {"when": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)},
        {"huge": 2**70},
        {"text": "a\u2028b"},
        [1, "x", None, True, {"k": 0.1}],
    ):
        assert renderer.render(data) == JSONRenderer().render(data)
    assert renderer.render(None) == b""
    indented = renderer.render({"a": 1}, "application/json; indent=2")
    assert indented == JSONRenderer().render({"a": 1}, "application/json; indent=2")


def test_member_list_totals_use_the_counter_unfiltered_and_count_when_filtered(ledger):
    from rest_framework.test import APIClient

    from segments.models import ApiToken, Role
    from tests.factories import UserFactory, member

    user = UserFactory()
    member(user, ledger.organization, Role.VIEWER)
    _, token = ApiToken.issue(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    segment = SegmentFactory(ledger=ledger)
    AccountFactory.create_batch(3, ledger=ledger, segment=segment, alias=None)
    AccountFactory(ledger=ledger, segment=segment, alias="@one")
    gone = AccountFactory(ledger=ledger, segment=segment)
    Account.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    PortfolioFactory.create_batch(2, ledger=ledger, segment=segment)
    base = f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/{segment.pk}"
    for query, total, count in (
        ("?limit=2", "4", 2),
        ("?limit=2&page=3", "4", 0),
        ("?limit=2&sort_order=desc", "4", 2),
        ("?limit=2&alias=@one", "1", 1),
        ("?kind=portfolio&limit=1", "2", 1),
    ):
        response = client.get(f"{base}/members{query}")
        assert response.status_code == 200, response.content
        assert response["X-Total-Count"] == total, query
        assert len(response.json()["items"]) == count, query
