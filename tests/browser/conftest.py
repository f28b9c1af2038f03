"""Playwright (sync API) on Debian's Chromium against pytest-django's live server.

The live server runs in a thread of this process, and Playwright's sync API runs an
event loop in it too; Django refuses ORM calls from a thread with a running loop unless
DJANGO_ALLOW_ASYNC_UNSAFE is set — set here, for the browser tests only.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    wanted = any("browser" in item.keywords for item in items)
    if wanted and (os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES")):
        # In CI a missing service fails the run; it never skips quietly.
        raise pytest.UsageError(f"{CHROMIUM} is absent: apt-get install -y chromium")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent: apt-get install -y chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser page; a screenshot of where it ended lands in test-artifacts/."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.base_url = live_server.url
    page.console_errors = []
    page.on(
        "console",
        lambda message: message.type == "error" and page.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def sign_in(page):
    def sign_in_as(user, password: str = "pw"):
        page.goto(page.base_url + "/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click(".auth__card button[type=submit]")
        page.wait_for_url(page.base_url + "/")
        return page

    return sign_in_as
