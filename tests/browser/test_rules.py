"""Dynamic segments in a real browser (issue #14 item 6): writing a rule on a manual
segment's Rule tab with the live preview counting as one types (and pointing at a
mistake), saving it, watching its refresh finish — run by ``manage.py worker`` as its own
process on the live test database — and opening a member's "Why is this account in this
segment?"."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from segments import services
from segments.models import Account, AssignedBy, SegmentRule
from tests.factories import AccountFactory
from tests.testing.worker import worker_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path) -> Iterator[subprocess.Popen]:
    """``manage.py worker`` on the live test database, stopped after the test."""
    log = tmp_path / "worker.log"
    process = worker_process(log)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    print(log.read_text()[-3000:])


@pytest.fixture
def black(operator, ledger):
    segment = services.create_segment(operator, ledger, name="Black")
    for number in range(3):
        AccountFactory(ledger=ledger, name=f"Black {number}", metadata={"tier": "black"})
    for number in range(2):
        AccountFactory(ledger=ledger, name=f"Gold {number}", metadata={"tier": "gold"})
    return segment


def rule_tab(page, segment) -> str:
    kwargs = {
        "organization_id": segment.organization_id,
        "ledger_id": segment.ledger_id,
        "segment_id": segment.pk,
    }
    return page.base_url + reverse("console:segment_rule", kwargs=kwargs)


def match_count(page):
    return page.locator('#preview-counts [data-count="matchCount"]')


def test_write_a_rule_watch_its_refresh_and_ask_an_account_why(
    page, sign_in, operator, black, worker
):
    sign_in(operator)
    page.goto(rule_tab(page, black).replace("rule/", ""))
    page.locator("#page-tabs").get_by_role("link", name="Rule").click()
    expect(page.locator("#rule-manual")).to_contain_text("This segment is manual")
    expect(page.locator("#rule-hints")).to_contain_text("assetCode")
    page.fill("#id_priority", "10")
    editor = page.locator("#id_expression")
    editor.press_sequentially('metadata.tier == "gold"', delay=20)
    expect(match_count(page)).to_have_text("2")
    # Typing on changes the count: the preview follows (debounced) without a save.
    for _ in range(len('gold"')):
        editor.press("Backspace")
    editor.press_sequentially('black"', delay=20)
    expect(match_count(page)).to_have_text("3")
    expect(page.locator('#preview-counts [data-count="wouldAdd"]')).to_have_text("3")
    expect(page.locator("#preview-sample")).to_contain_text("Black 0")
    # A mistake is pointed at, under the editor, then gone once corrected.
    editor.press_sequentially(" &&& x", delay=20)
    expect(page.locator("#rule-error")).to_contain_text("Line 1, column 28")
    expect(page.locator("#rule-error .rule-caret__mark")).to_have_text(" " * 27 + "^")
    for _ in range(len(" &&& x")):
        editor.press("Backspace")
    expect(match_count(page)).to_have_text("3")
    # The field hints follow the subject.
    page.select_option("#id_subject", "portfolio")
    expect(page.locator("#rule-hints")).not_to_contain_text("assetCode")
    page.select_option("#id_subject", "account")
    expect(page.locator("#rule-hints")).to_contain_text("assetCode")

    page.locator("[data-rule-save]").click()
    expect(page.locator("#toasts")).to_contain_text("Rule saved")
    expect(page.locator("#rule-current")).to_contain_text('metadata.tier == "black"')
    expect(page.locator(".page-title .badge--dynamic")).to_have_text("Dynamic · priority 10")
    # The worker runs the refresh; the panel polls until it is done.
    refresh = page.locator("#rule-refresh")
    expect(refresh).to_have_attribute("data-status", "done", timeout=60_000)
    expect(refresh.locator('[data-count="added"]')).to_have_text("3")
    expect(refresh).to_contain_text("The segment has 3 members now.")
    expect(refresh.locator("progress")).to_have_count(0)
    rule = SegmentRule.objects.get(segment=black)
    assert (rule.expression, rule.priority) == ('metadata.tier == "black"', 10)
    members = Account.objects.filter(segment=black)
    assert {account.segment_assigned_by for account in members} == {AssignedBy.RULE}

    # The Members tab offers no manual control and says why.
    page.locator("#page-tabs").get_by_role("link", name="Members").click()
    expect(page.locator("#members-by-rule")).to_contain_text("its members are chosen by")
    expect(page.get_by_role("link", name="Add accounts")).to_have_count(0)

    # An account's page says why it is in the segment.
    member = members.order_by("name").first()
    page.goto(
        page.base_url
        + reverse(
            "console:account",
            kwargs={
                "organization_id": member.organization_id,
                "ledger_id": member.ledger_id,
                "account_id": member.pk,
            },
        )
    )
    why = page.locator("#account-why")
    expect(why).to_contain_text("Why is this account in this segment?")
    expect(why.locator("#why-summary")).to_contain_text("by its rule: not pinned")
    candidate = why.locator(f'[data-segment="{black.pk}"]')
    expect(candidate).to_have_attribute("data-matched", "true")
    expect(candidate).to_contain_text("Its segment")
    expect(candidate.locator('[data-value="true"]')).to_contain_text('metadata.tier == "black"')
    assert page.console_errors == []
