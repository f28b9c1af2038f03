"""One sign-in limit for every way in (issue #10 item 3): the console's login, the admin's
login and any other ``authenticate()`` share one count per account and one per address,
and a blocked account is refused even with the right password, wherever it signs in."""

import pytest
from django.contrib.auth import authenticate
from django.urls import reverse

from segments.ratelimit import ADDRESS_FAILURES_ALLOWED, LOGIN_FAILURES_ALLOWED
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
LOCKED = "this account is temporarily locked"


@pytest.fixture
def staff(db):
    return UserFactory(username="backoffice", is_staff=True, is_superuser=True)


def admin_sign_in(client, username, password, address="127.0.0.1"):
    return client.post(
        ADMIN_LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def console_sign_in(client, username, password, address="127.0.0.1"):
    return client.post(
        reverse("console:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_admin_refuses_the_right_password_after_too_many_failures(client, staff):
    for attempt in range(LOGIN_FAILURES_ALLOWED):
        response = admin_sign_in(client, "backoffice", f"wrong-{attempt}")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = admin_sign_in(client, "backoffice", "pw")
    assert response.status_code == 200, "the right password is refused while locked"
    assert LOCKED in response.content.decode()
    assert "Please enter the correct username" not in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_the_admin_signs_in_below_the_limit_and_a_success_clears_the_count(client, staff):
    for _ in range(LOGIN_FAILURES_ALLOWED - 1):
        admin_sign_in(client, "backoffice", "wrong")
    assert admin_sign_in(client, "backoffice", "pw").status_code == 302
    client.logout()
    for _ in range(LOGIN_FAILURES_ALLOWED - 1):
        admin_sign_in(client, "backoffice", "wrong")
    assert admin_sign_in(client, "backoffice", "pw").status_code == 302, "count started afresh"


def test_an_account_the_console_locked_cannot_sign_in_at_the_admin(client, staff):
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert console_sign_in(client, "backoffice", "wrong").status_code == 200
    locked_in_console = console_sign_in(client, "backoffice", "pw")
    assert LOCKED in locked_in_console.content.decode()
    response = admin_sign_in(client, "backoffice", "pw")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_at_the_admin_and_the_console_add_up(client, staff):
    for attempt in range(LOGIN_FAILURES_ALLOWED):
        sign_in = admin_sign_in if attempt % 2 else console_sign_in
        sign_in(client, "backoffice", "wrong")
    response = console_sign_in(client, "backoffice", "pw")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()


def test_too_many_failures_from_one_address_block_every_account_from_it(client, staff):
    for attempt in range(ADDRESS_FAILURES_ALLOWED):
        # a different username each time: no single account reaches its own limit
        console_sign_in(client, f"guess{attempt}", "wrong", address="203.0.113.9")
    blocked = admin_sign_in(client, "backoffice", "pw", address="203.0.113.9")
    assert blocked.status_code == 200
    assert "Too many failed sign-ins from this address" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    elsewhere = admin_sign_in(client, "backoffice", "pw", address="198.51.100.7")
    assert elsewhere.status_code == 302, "another address is not blocked"


def test_every_authenticate_call_shares_the_limit(staff, rf):
    """A login that is neither the console's nor the admin's (DRF's, a future one) calls
    ``authenticate()`` and meets the same limit."""
    request = rf.post("/elsewhere/", REMOTE_ADDR="192.0.2.1")
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert authenticate(request, username="backoffice", password="wrong") is None
    assert authenticate(request, username="backoffice", password="pw") is None
    assert authenticate(None, username="backoffice", password="pw") is None, "without a request"
