"""What the browser tests share: waiting until htmx is done with what it swapped in."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def settled(page: Page) -> None:
    """Wait until htmx has set up what it swapped in (a change made in the same
    millisecond would find no listener yet: no person is that fast)."""
    expect(page.locator(".htmx-settling, .htmx-swapping, .htmx-request")).to_have_count(0)
