"""The shared cache (issue #11 item 8, issue #10 "multi-worker limits"): with ``REDIS_URL``
the sign-in limit, the API throttle and the console's one-time form tokens are one across
server processes. Proven with two gunicorn servers on two ports, the same PostgreSQL test
database and the same Redis key prefix as this test session; requests alternate between
them. With local memory each server would count alone and every proof here would fail.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from segments.models import Role, Segment
from segments.ratelimit import LOGIN_FAILURES_ALLOWED
from tests.factories import LedgerFactory, OrganizationFactory, UserFactory, member, token_for
from tests.testing.gunicorn import serve, worker_ports

# Two ports per xdist worker (gw0: 8440/8441 … gw3: 8446/8447).
PORTS = worker_ports(8440, 2)
THROTTLE_RATE = 10  # requests per minute per token, given to both servers
LOCKED = "this account is temporarily locked"


@pytest.mark.redis
def test_clear_removes_only_this_sessions_keys():
    """``cache.clear()`` must not flush the Redis database that other sessions share."""
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    stranger = f"another-site-{uuid.uuid4().hex}:1:counter"
    client.set(stranger, 7, ex=60)
    cache.set("mine", 1, 60)
    try:
        cache.clear()
        assert cache.get("mine") is None
        assert client.get(stranger) == b"7"
    finally:
        client.delete(stranger)


@pytest.mark.django_db
def test_an_unreachable_cache_answers_503_and_signs_no_one_in(client, settings):
    """Redis down: the throttle and the sign-in limit cannot count, so the API and the
    sign-in answer 503 with ``Retry-After`` (retry shortly), never a 500 and never an
    unthrottled request."""
    user = UserFactory(username="teller")
    token = token_for(user)
    settings.CACHES = {
        "default": {
            "BACKEND": "segments.cache.PrefixedRedisCache",
            "LOCATION": "redis://127.0.0.1:8449/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    api = client.get("/v1/organizations", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (api.status_code, api.json()["code"], api["Retry-After"]) == (503, "9008", "5")
    sign_in = client.post(reverse("console:login"), {"username": "teller", "password": "pw"})
    assert sign_in.status_code == 503
    assert sign_in["Retry-After"] == "5"
    assert "_auth_user_id" not in client.session


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    """Two gunicorn servers (one worker each) on the live test database, sharing this
    session's Redis prefix, with the API throttle at ``THROTTLE_RATE``/minute."""
    logs = tmp_path_factory.mktemp("servers")
    with serve(PORTS, logs, API_THROTTLE_RATE=f"{THROTTLE_RATE}/minute") as bases:
        yield bases


def _report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n[two servers] {line}", end="")


def _csrf(session: requests.Session, base: str, path: str) -> str:
    session.get(f"{base}{path}", timeout=10).raise_for_status()
    return session.cookies["csrftoken"]


def _sign_in(session, base, path, username, password, **extra) -> requests.Response:
    token = _csrf(session, base, path)
    return session.post(
        f"{base}{path}",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token, **extra},
        allow_redirects=False,
        timeout=10,
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_sign_in_failures_on_two_servers_lock_the_account_after_n_in_all(servers, capsys):
    UserFactory(username="teller", is_staff=True)
    session = requests.Session()
    for attempt in range(LOGIN_FAILURES_ALLOWED):
        response = _sign_in(session, servers[attempt % 2], "/login/", "teller", "wrong")
        assert response.status_code == 200
        assert LOCKED not in response.text, f"locked after only {attempt + 1} failures"
    fresh = requests.Session()
    at_b = _sign_in(fresh, servers[1], "/login/", "teller", "pw")
    at_a_admin = _sign_in(fresh, servers[0], "/admin/login/", "teller", "pw", next="/admin/")
    assert (at_b.status_code, LOCKED in at_b.text) == (200, True)
    assert (at_a_admin.status_code, LOCKED in at_a_admin.text) == (200, True)
    _report(
        capsys,
        f"sign-in: {LOGIN_FAILURES_ALLOWED} failures alternating {PORTS[0]}/{PORTS[1]} → "
        f"right password refused as locked on {PORTS[1]} (console) and {PORTS[0]} (admin)",
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_api_throttle_counts_the_requests_of_both_servers(servers, capsys):
    organization = OrganizationFactory()
    user = UserFactory()
    member(user, organization, Role.VIEWER)
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    statuses = []
    for number in range(THROTTLE_RATE + 2):
        base = servers[number % 2]
        statuses.append(requests.get(f"{base}/v1/organizations", headers=headers, timeout=10))
    codes = [response.status_code for response in statuses]
    assert codes == [200] * THROTTLE_RATE + [429, 429], codes
    assert statuses[-1].json()["code"] == "9005"
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    _report(
        capsys,
        f"API throttle {THROTTLE_RATE}/minute: requests alternating {PORTS[0]}/{PORTS[1]} "
        f"answered {codes} (the 11th on {PORTS[0]}, the 12th on {PORTS[1]})",
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_api_throttle_holds_under_concurrent_requests_to_both_servers(servers, capsys):
    """Requests arriving at both servers at once: exactly the rate is admitted (DRF's own
    throttle read-modify-writes a list and admitted 12-13 of 10 here)."""
    organization = OrganizationFactory()
    admitted = []
    for _ in range(3):
        user = UserFactory()
        member(user, organization, Role.VIEWER)
        headers = {"Authorization": f"Bearer {token_for(user)}"}

        def hit(number: int, headers=headers) -> int:
            url = f"{servers[number % 2]}/v1/organizations"
            return requests.get(url, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(hit, range(4 * THROTTLE_RATE)))
        assert sorted(set(codes)) == [200, 429], codes
        admitted.append(codes.count(200))
    assert admitted == [THROTTLE_RATE] * 3, admitted
    _report(
        capsys,
        f"API throttle {THROTTLE_RATE}/minute under load: 3 tokens × {4 * THROTTLE_RATE} "
        f"requests, 8 at a time over both servers → admitted {admitted}",
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_form_sent_twice_to_two_servers_creates_one_segment(servers, capsys):
    ledger = LedgerFactory(organization=OrganizationFactory())
    user = UserFactory(username="clerk")
    member(user, ledger.organization, Role.OPERATOR)
    session = requests.Session()
    assert _sign_in(session, servers[0], "/login/", "clerk", "pw").status_code == 302
    path = f"/organizations/{ledger.organization_id}/ledgers/{ledger.pk}/segments/new/"
    form = {
        "name": "Black",
        "status": "ACTIVE",
        "form_token": uuid.uuid4().hex,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }
    answers = [
        session.post(
            f"{base}{path}",
            data=form,
            headers={"HX-Request": "true", "X-CSRFToken": session.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=10,
        )
        for base in servers
    ]
    assert [answer.status_code for answer in answers] == [204, 204], [a.text for a in answers]
    assert Segment.objects.filter(ledger=ledger).count() == 1
    _report(
        capsys,
        f"double submit: one form token sent to {PORTS[0]} then {PORTS[1]} → "
        f"{[a.status_code for a in answers]}, 1 segment created",
    )
