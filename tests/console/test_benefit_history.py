"""A segment's benefits in its history, in words (issue #13 item 6): the console's
history tab says what each benefit grants and what changed; ``GET …/history`` lists the
same entries."""

from __future__ import annotations

import datetime as dt

import pytest

from segments import services
from segments.models import Benefit, HistoryAction, SegmentHistory
from tests.console.conftest import url
from tests.factories import token_for

pytestmark = pytest.mark.django_db

CASHBACK = {"percentage": "2.5", "assetCode": "BRL", "cap": {"amount": "50.00", "period": "month"}}


@pytest.fixture
def segment(operator, ledger):
    return services.create_segment(operator, ledger, name="Student")


def test_benefit_changes_read_as_sentences(as_user, operator, admin_user, ledger, segment):
    benefit = services.create_benefit(
        operator, segment, name="Education cashback", kind="cashback", parameters=CASHBACK
    )
    services.update_benefit(
        operator,
        benefit,
        {
            "parameters": {**CASHBACK, "percentage": "3"},
            "valid_until": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            "priority": 5,
        },
    )
    services.delete_benefit(admin_user, benefit)
    kwargs = {"organization_id": ledger.organization_id, "ledger_id": ledger.pk}
    page = as_user(operator).get(url("segment_history", **kwargs, segment_id=segment.pk))
    text = page.content.decode()
    assert "Benefit “Education cashback”: 2.5 % cashback on BRL, up to 50.00 a month." in text
    assert "Benefit “Education cashback” changed." in text
    assert "3 % cashback on BRL, up to 50.00 a month" in text
    assert "until Jan. 1, 2027, midnight UTC" in text
    assert '<span class="changes__before">100</span>' in text
    assert '<span class="changes__after">5</span>' in text
    assert "Benefit “Education cashback” deleted." in text
    portuguese = as_user(operator).get(
        url("segment_history", **kwargs, segment_id=segment.pk), HTTP_ACCEPT_LANGUAGE="pt-br"
    )
    assert "2.5 % de cashback em BRL, até 50.00 por mês" in portuguese.content.decode()


def test_the_api_history_lists_the_benefit_entries(client, operator, ledger, segment):
    services.create_benefit(
        operator, segment, name="Lounge", kind="service", parameters={"serviceCode": "lounge"}
    )
    response = client.get(
        f"/v1/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/"
        f"{segment.pk}/history",
        HTTP_AUTHORIZATION=f"Bearer {token_for(operator)}",
    )
    entries = response.json()["items"]
    assert entries[0]["action"] == HistoryAction.BENEFIT_CREATED
    assert entries[0]["after"]["name"] == "Lounge"
    assert entries[0]["after"]["parameters"] == {"serviceCode": "lounge"}


def test_the_delete_dialog_says_the_benefits_go_with_the_segment(
    as_user, admin_user, ledger, segment
):
    services.create_benefit(
        admin_user, segment, name="Lounge", kind="service", parameters={"serviceCode": "lounge"}
    )
    kwargs = {"organization_id": ledger.organization_id, "ledger_id": ledger.pk}
    dialog = as_user(admin_user).get(url("segment_delete", **kwargs, segment_id=segment.pk))
    assert "Its 1 benefit is deleted with it." in dialog.content.decode()
    as_user(admin_user).post(url("segment_delete", **kwargs, segment_id=segment.pk))
    history = as_user(admin_user).get(url("ledger_segments", **kwargs))
    assert history.status_code == 200
    assert not Benefit.objects.filter(segment=segment).exists()
    deleted = SegmentHistory.objects.get(segment=segment, action=HistoryAction.DELETED)
    assert deleted.before["benefitsDeleted"] == 1
