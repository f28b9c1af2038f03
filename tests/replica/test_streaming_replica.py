"""The read replica against a real streaming standby (issue #11 item 9), through HTTP to
a gunicorn server whose ``REPLICA_DATABASE_URL`` is the standby (see ``conftest.py``).

Where a read went is proven by pausing replay on the standby: a row written meanwhile
exists on the primary only, so an answer that shows it came from the primary and one
that misses it from the replica. Each test leaves replay running and the standby up."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.replica.conftest import PIN_SECONDS, RETRY_SECONDS, Client, server_log

pytestmark = pytest.mark.postgres

PIN_COOKIE = "segments_read_primary"
FALLBACK_LINE = re.compile(r"WARNING segments\.db_router .*Read replica unavailable")
BACK_LINE = re.compile(r"INFO segments\.db_router .*Read replica available again")


@pytest.fixture
def api(replica_app) -> Client:
    return Client(replica_app.base, replica_app.token)


@pytest.fixture
def reader(replica_app) -> Client:
    """A client that never writes: no recent-write cookie ever pins it to the primary."""
    return Client(replica_app.base, replica_app.token)


@pytest.fixture
def segments_url(replica_app) -> str:
    ids = replica_app.ids
    return f"/v1/organizations/{ids['organization']}/ledgers/{ids['ledger']}/segments"


@pytest.fixture
def console_url(replica_app) -> str:
    ids = replica_app.ids
    return f"/organizations/{ids['organization']}/ledgers/{ids['ledger']}/segments/"


def listed_names(api: Client, segments_url: str) -> list[str]:
    status, page = api.json("GET", f"{segments_url}?limit=100")
    assert status == 200, page
    return [item["name"] for item in page["items"]]


def test_lists_and_details_read_from_the_replica(replica_pair, api, reader, segments_url):
    with replica_pair.replay_paused():
        status, created = api.json("POST", segments_url, {"name": "Written while paused"})
        assert status == 201, created
        # The write went to the primary (the standby is read-only and replays nothing now).
        on_primary = replica_pair.sql(
            replica_pair.primary, "SELECT name FROM segments_segment WHERE id = %s", created["id"]
        )
        assert on_primary == [("Written while paused",)]

        names = listed_names(reader, segments_url)
        assert "Black" in names  # seeded, replayed before the pause
        assert "Written while paused" not in names
        status, _ = reader.json("GET", f"{segments_url}/{created['id']}")
        assert status == 404
        status, headers, _ = reader.request("HEAD", f"{segments_url}/metrics/count")
        assert (status, int(headers["X-Total-Count"])) == (204, len(names))
        # A pin cookie the server did not set (far beyond the window) pins nothing.
        status, _, text = reader.request(
            "GET", f"{segments_url}?limit=100", headers={"Cookie": f"{PIN_COOKIE}=99999999999"}
        )
        assert status == 200 and "Written while paused" not in text

    assert "Written while paused" in listed_names(reader, segments_url)
    status, detail = reader.json("GET", f"{segments_url}/{created['id']}")
    assert (status, detail["name"]) == (200, "Written while paused")


def test_requests_that_write_read_the_primary_and_their_own_writes(
    replica_pair, api, segments_url, replica_app
):
    ledger_url = segments_url.removesuffix("/segments")
    with replica_pair.replay_paused():
        status, segment = api.json("POST", segments_url, {"name": "Fresh"})
        assert (status, segment["name"], segment["accountCount"]) == (201, "Fresh", 0)
        status, account = api.json(
            "POST", f"{ledger_url}/accounts", {"name": "Fresh one", "type": "deposit",
                                               "assetCode": "BRL", "alias": "@fresh"},
        )  # fmt: skip
        assert status == 201, account

        # Each of these looks up rows that exist only on the primary (a lookup on the
        # replica answers 404), then writes in a transaction whose reads see them.
        status, assigned = api.json(
            "POST", f"{segments_url}/{segment['id']}/members", {"accountIds": [account["id"]]}
        )
        assert (status, assigned) == (200, {"assigned": 1, "accounts": 1, "portfolios": 0})
        status, patched = api.json(
            "PATCH", f"{segments_url}/{segment['id']}", {"description": "Premium"}
        )
        assert status == 200, patched
        # Read after its own write, and after the previous request's: the counter too.
        assert (patched["description"], patched["accountCount"]) == ("Premium", 1)

        # A plain read by a client that did not write (no cookie) is still the replica's.
        status, _ = Client(replica_app.base, replica_app.token).json(
            "GET", f"{segments_url}/{segment['id']}"
        )
        assert status == 404
        # The writer's own client got the pin; with it, its next read is the primary's.
        assert api.cookie(PIN_COOKIE)
        status, detail = api.json("GET", f"{segments_url}/{segment['id']}")
        assert (status, detail["description"], detail["accountCount"]) == (200, "Premium", 1)


def test_a_response_that_wrote_pins_the_client_for_the_window(replica_pair, api, segments_url):
    status, headers, _ = api.request("POST", segments_url, json_body={"name": "Pinned"})
    assert status == 201
    cookie = " ".join(headers.get_all("Set-Cookie") or [])
    assert f"{PIN_COOKIE}=" in cookie and f"Max-Age={PIN_SECONDS}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    status, headers, _ = api.request("GET", f"{segments_url}?limit=1")
    assert status == 200 and PIN_COOKIE not in (headers.get("Set-Cookie") or "")


def test_the_console_refresh_after_a_write_shows_it(replica_pair, replica_app, console_url):
    browser = Client(replica_app.base)
    browser.sign_in(replica_app.username, replica_app.password)
    other_tab = Client(replica_app.base)  # the same user in another browser, no recent write
    other_tab.sign_in(replica_app.username, replica_app.password)
    other_tab.forget_cookie(PIN_COOKIE)
    replica_pair.wait_replayed()  # the sessions are on the standby too
    with replica_pair.replay_paused():
        _, _, dialog = browser.request("GET", console_url + "new/")
        status, headers, _ = browser.request(
            "POST",
            console_url + "new/",
            form=browser.csrf_form(dialog, name="Made in the console", status="ACTIVE"),
            headers={"HX-Request": "true"},
        )
        assert status == 204, status
        assert "HX-Trigger" in headers
        # htmx's refresh of the list, the request right after the write:
        status, _, page = browser.request("GET", console_url, headers={"HX-Request": "true"})
        assert status == 200
        assert "Made in the console" in page
        # Without JavaScript: the form posts, the answer redirects, the page shows it.
        _, _, dialog = browser.request("GET", console_url + "new/")
        status, headers, _ = browser.request(
            "POST",
            console_url + "new/",
            form=browser.csrf_form(dialog, name="Posted without htmx", status="ACTIVE"),
        )
        assert status == 302
        status, _, page = browser.request("GET", headers["Location"])
        assert status == 200
        assert "Made in the console" in page and "Posted without htmx" in page

        # The page itself reads the replica: another browser does not see the change yet,
        status, _, page = other_tab.request("GET", console_url)
        assert status == 200 and "Black" in page
        assert "Made in the console" not in page
        # and neither does this one once the window after its write is over.
        time.sleep(PIN_SECONDS + 0.5)
        status, _, page = browser.request("GET", console_url)
        assert status == 200 and "Black" in page
        assert "Made in the console" not in page

    status, _, page = other_tab.request("GET", console_url)
    assert "Made in the console" in page and "Posted without htmx" in page


def concurrent_reads(app, segments_url: str, count: int = 6) -> list[list[str]]:
    """``count`` list reads at once, each from a fresh client: with gunicorn's two sync
    workers busy at the same time, both serve some of them (one read after another may
    all land on the same worker)."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(
            pool.map(
                lambda _: listed_names(Client(app.base, app.token), segments_url),
                range(count),
            )
        )


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    replica_pair, replica_app, api, segments_url
):
    status, _ = api.json("POST", segments_url, {"name": "Before the outage"})
    assert status == 201
    replica_pair.wait_replayed()
    warnings_before = len(FALLBACK_LINE.findall(server_log(replica_app)))
    backs_before = len(BACK_LINE.findall(server_log(replica_app)))
    replica_pair.standby.stop()
    try:
        started = time.monotonic()
        for names in concurrent_reads(replica_app, segments_url):
            assert "Before the outage" in names and "Black" in names
        status, _ = api.json("GET", f"{segments_url}?name=Black")
        assert status == 200
        assert time.monotonic() - started < RETRY_SECONDS  # all within one back-off
        logged = server_log(replica_app)
        fallbacks = len(FALLBACK_LINE.findall(logged)[warnings_before:])
        # One line per worker process that tried the replica (2), not one per request (7).
        assert 1 <= fallbacks <= 2, logged[-2000:]
        assert "reads fall back to the primary" in logged
    finally:
        replica_pair.standby.start()

    # Back on the replica once the back-off is over: a row the standby has not replayed
    # is missing again, and every worker that had fallen back says it is back.
    time.sleep(RETRY_SECONDS + 0.5)
    with replica_pair.replay_paused():
        status, _ = api.json("POST", segments_url, {"name": "After the outage"})
        assert status == 201
        for _ in range(10):
            for names in concurrent_reads(replica_app, segments_url):
                assert "Before the outage" in names
                assert "After the outage" not in names
            backs = len(BACK_LINE.findall(server_log(replica_app))) - backs_before
            if backs >= fallbacks:
                break
    assert backs == fallbacks, server_log(replica_app)[-2000:]
