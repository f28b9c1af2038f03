"""The role matrix, checked on every write: anonymous → login, non-member → 404,
viewer → 403 (and no write controls), operator → create/update/assign, admin → delete."""

import pytest

from segments.models import Account
from tests.console.conftest import url
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

WRITES = [
    ("segment_create", "ledger", {"name": "New", "status": "ACTIVE"}),
    ("segment_edit", "segment", {"name": "Renamed", "status": "ACTIVE"}),
    ("segment_members_add", "segment", {"account_ids": "ACCOUNT"}),
    ("segment_members_remove", "segment", {"account_ids": "MEMBER"}),
    ("segment_delete", "segment", {"detach": "1"}),
    ("account_create", "ledger", {"type": "deposit", "asset_code": "BRL", "status": "ACTIVE"}),
    ("accounts_bulk_segment", "ledger", {"action": "clear", "account_ids": "MEMBER"}),
    ("portfolio_create", "ledger", {"name": "P", "status": "ACTIVE"}),
]
EXPECTED = {
    "anonymous": {name: 302 for name, _, _ in WRITES},
    "outsider": {name: 404 for name, _, _ in WRITES},
    "viewer": {name: 403 for name, _, _ in WRITES},
    "operator": {name: 403 if name == "segment_delete" else None for name, _, _ in WRITES},
    "admin": {name: None for name, _, _ in WRITES},
}


@pytest.mark.parametrize("actor", list(EXPECTED))
@pytest.mark.parametrize(("name", "scope", "data"), WRITES, ids=[w[0] for w in WRITES])
def test_write_matrix(
    client, users, ledger, black, ledger_kwargs, segment_kwargs, actor, name, scope, data
):
    if actor != "anonymous":
        client.force_login(users[actor])
    account = AccountFactory(ledger=ledger)
    member = Account.objects.filter(segment=black).first()
    payload = {
        key: {"ACCOUNT": str(account.pk), "MEMBER": str(member.pk)}.get(value, value)
        for key, value in data.items()
    }
    kwargs = ledger_kwargs if scope == "ledger" else segment_kwargs
    response = client.post(url(name, **kwargs), payload)
    expected = EXPECTED[actor][name]
    if expected is None:
        assert response.status_code in (200, 302), response.status_code  # done (redirect) or a form
        assert response.status_code != 403
    else:
        assert response.status_code == expected


def test_viewer_sees_no_write_controls_on_segment_screens(
    as_user, users, black, ledger_kwargs, segment_kwargs
):
    client = as_user(users["viewer"])
    for page in (
        url("ledger_segments", **ledger_kwargs),
        url("segment", **segment_kwargs),
        url("ledger", **ledger_kwargs),
    ):
        text = client.get(page).text
        assert "New segment" not in text
        assert "/edit/" not in text
        assert "/delete/" not in text
    # the deep link does not open a form for a viewer
    assert (
        'id="id_name"'
        not in client.get(url("ledger_segments", **ledger_kwargs), {"create": "1"}).text
    )


def test_operator_sees_create_and_edit_but_not_delete(
    as_user, operator, black, ledger_kwargs, segment_kwargs
):
    client = as_user(operator)
    text = client.get(url("ledger_segments", **ledger_kwargs)).text
    assert "New segment" in text and "/edit/" in text and "/delete/" not in text
    detail = client.get(url("segment", **segment_kwargs)).text
    assert "/edit/" in detail and "/delete/" not in detail
