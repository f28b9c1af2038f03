"""Dynamic segments in the console (issue #14 item 6), through rendered HTML: the Rule tab
(a manual segment's explanation and editor, a dynamic segment's rule and refresh), the
live preview's counts, conflicts and sample, a bad rule pointed at its line and column,
saving and its refusals beside their fields with nothing written, removing the rule with
its members kept or removed, the refresh status that polls until it ends and "Refresh
now", "Dynamic · priority N" in the lists in a constant number of queries, "Why is this
account in this segment?" on the account page, no manual member controls on a dynamic
segment, and the roles."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone
from django.utils.html import escape

from segments import services
from segments.models import (
    Account,
    AssignedBy,
    RefreshStatus,
    RuleRefresh,
    Segment,
    SegmentHistory,
    SegmentRule,
)
from tests.console.conftest import htmx, url
from tests.factories import AccountFactory, PortfolioFactory
from tests.testing.worker import run_worker

pytestmark = pytest.mark.django_db

BLACK = 'metadata.tier == "black"'


def segment_path(segment: Segment, name: str = "segment_rule") -> str:
    kwargs = {"organization_id": segment.organization_id, "segment_id": segment.pk}
    if segment.ledger_id is None:
        return url(f"org_{name}", **kwargs)
    return url(name, ledger_id=segment.ledger_id, **kwargs)


def account_url(account: Account) -> str:
    return url(
        "account",
        organization_id=account.organization_id,
        ledger_id=account.ledger_id,
        account_id=account.pk,
    )


def counts(fragment: str) -> dict[str, int]:
    """The preview's counts, by name (``data-count`` of each)."""
    return {
        name: int(value)
        for name, value in re.findall(r'data-count="(\w+)">(\d+)<', fragment)
        if name in ("matchCount", "wouldAdd", "wouldRemove", "pinnedExcluded")
    }


def element(page: str, element_id: str, tag: str = "section") -> str:
    """The HTML of the ``tag`` element with ``element_id`` (not nested in its own kind)."""
    found = re.search(rf'<{tag}[^>]*id="{element_id}".*?</{tag}>', page, re.S)
    return found.group(0) if found else ""


def field(page: str, name: str) -> str:
    """The form field (label, input, help and errors) of the input named ``name``, when it
    is marked as wrong."""
    found = re.search(
        rf'<div class="field has-error"[^>]*>\s*<label class="field__label" for="id_{name}"'
        r".*?</div>",
        page,
        re.S,
    )
    return found.group(0) if found else ""


def account(ledger, tier: str | None = None, segment=None, by=None, **fields) -> Account:
    fields.setdefault("metadata", {"tier": tier} if tier else {})
    return AccountFactory(ledger=ledger, segment=segment, segment_assigned_by=by, **fields)


@pytest.fixture
def manual(ledger, operator):
    return services.create_segment(operator, ledger, name="Manual")


@pytest.fixture
def dynamic(ledger, operator):
    """Premium, dynamic: ``metadata.tier == "black"`` about accounts, priority 10."""
    segment = services.create_segment(operator, ledger, name="Premium")
    services.put_rule(operator, segment, BLACK, "account", 10)
    return Segment.objects.get(pk=segment.pk)


# --------------------------------------------------------------------------- the tab


def test_a_manual_segments_rule_tab_explains_and_offers_the_editor(as_user, operator, manual):
    page = as_user(operator).get(segment_path(manual)).text
    assert '<a class="tab is-current" href="' + segment_path(manual) in page
    assert "This segment is manual" in page and "Make it dynamic" in page
    form = element(page, "rule-editor")
    assert 'name="expression"' in form and 'name="subject"' in form and 'name="priority"' in form
    # The live preview: debounced, posted to the preview view, swapped under the editor.
    assert f'hx-post="{segment_path(manual, "segment_rule_preview")}"' in form
    assert 'hx-trigger="input changed delay:400ms"' in form
    assert 'hx-target="#rule-preview"' in form
    # The field hints: the catalogue of accounts, with what each name holds.
    hints = element(page, "rule-hints", "aside")
    for name in ("assetCode", "blocked", "createdAt", "metadata.&lt;key&gt;"):
        assert f"<code>{name}</code>" in hints
    assert "portfolio.metadata.&lt;key&gt;" in hints and "true or false" in hints
    assert "rule-refresh" not in page and "Remove rule" not in page
    # Saving or removing the rule reloads the segment's page from here.
    assert f'hx-get="{segment_path(manual)}" hx-trigger="rule-changed from:body"' in page
    # A tab switch (htmx) gets the tab alone, with the tab bar out of band.
    tab = as_user(operator).get(segment_path(manual), headers=htmx("tab-body")).text
    assert "<html" not in tab and 'id="rule-editor"' in tab and 'hx-swap-oob="true"' in tab


def test_a_dynamic_segments_rule_tab_shows_the_rule_and_its_refresh(as_user, operator, dynamic):
    page = as_user(operator).get(segment_path(dynamic)).text
    current = element(page, "rule-current")
    assert escape(BLACK) in current
    assert "Dynamic · priority 10" in current
    assert (
        f'<a class="badge badge--dynamic" href="{segment_path(dynamic)}">Dynamic · priority 10'
        in page
    )
    assert re.search(r"Version</dt><dd>1 · by operator", current)
    assert '<dd id="rule-fields"><code>metadata.tier</code></dd>' in current
    assert '<dd id="rule-time">No</dd>' in current
    refresh = element(page, "rule-refresh")
    assert 'data-status="queued"' in refresh and "Queued" in refresh
    assert 'hx-trigger="every 1s"' in refresh  # polls while it is queued
    assert "Refresh now" in refresh
    # The editor starts from the rule and previews it once loaded.
    editor = element(page, "rule-editor")
    assert "metadata.tier == &quot;black&quot;</textarea>" in editor
    assert 'hx-trigger="input changed delay:400ms, load"' in editor
    assert 'value="10"' in editor


def test_an_organization_segment_has_the_tab_too(as_user, operator, organization, ledger):
    group = services.create_segment(operator, organization, name="Group")
    services.put_rule(operator, group, "blocked", "account", 3)
    account(ledger, blocked=True)
    client = as_user(operator)
    page = client.get(segment_path(group)).text
    assert "Dynamic · priority 3" in page and "<code>blocked</code>" in page
    preview = client.post(
        segment_path(group, "segment_rule_preview"),
        {"expression": "blocked", "subject": "account"},
        headers=htmx("rule-preview"),
    ).text
    assert counts(preview)["matchCount"] == 1


def test_a_time_dependent_rule_says_so(as_user, operator, manual):
    services.put_rule(operator, manual, 'createdAt > now - duration("24h")', "account", 1)
    page = as_user(operator).get(segment_path(manual)).text
    assert "Yes: its members are refreshed on a schedule" in element(page, "rule-current")


# --------------------------------------------------------------------------- preview


@pytest.fixture
def preview_world(ledger, operator, dynamic):
    """Premium (10) with two rule members (one no longer matching), a free black account,
    one pinned by hand elsewhere, and Gold (5) whose rule also matches one of them."""
    gold = services.create_segment(operator, ledger, name="Gold")
    services.put_rule(operator, gold, 'metadata.vip == "yes"', "account", 5)
    elsewhere = services.create_segment(operator, ledger, name="Elsewhere")
    return {
        "member": account(ledger, "black", dynamic, AssignedBy.RULE, name="Ana"),
        "stale": account(ledger, "silver", dynamic, AssignedBy.RULE, name="Bia"),
        "free": account(ledger, "black", name="Caio"),
        "vip": account(ledger, "black", name="Duda", metadata={"tier": "black", "vip": "yes"}),
        "pinned": account(ledger, "black", elsewhere, AssignedBy.MANUAL, name="Edu"),
        "gold": gold,
    }


def preview(client, segment, expression: str, subject: str = "account", priority: str = ""):
    response = client.post(
        segment_path(segment, "segment_rule_preview"),
        {"expression": expression, "subject": subject, "priority": priority},
        headers=htmx("rule-preview"),
    )
    assert response.status_code == 200, response.content
    return response.text


def test_the_preview_counts_what_saving_would_do_and_the_conflicts(
    as_user, operator, dynamic, preview_world
):
    client = as_user(operator)
    fragment = preview(client, dynamic, BLACK)
    assert counts(fragment) == {
        "matchCount": 4,  # Ana, Caio, Duda, Edu
        "wouldAdd": 1,  # Caio (Duda goes to Gold, 5 < 10; Edu is pinned)
        "wouldRemove": 1,  # Bia no longer matches; Ana stays
        "pinnedExcluded": 1,
    }
    conflicts = element(fragment, "preview-conflicts", "ul")
    assert "<strong>Gold</strong> · priority 5" in conflicts
    assert "1 in common" in conflicts and "it takes them (lower number)" in conflicts
    sample = element(fragment, "preview-sample", "ul")
    for name in ("Ana", "Caio", "Duda", "Edu"):
        assert f">{name}</a>" in sample
    assert account_url(preview_world["free"]) in sample
    # A priority below Gold's: Duda comes here instead.
    lower = preview(client, dynamic, BLACK, priority="1")
    assert counts(lower)["wouldAdd"] == 2
    assert "they come to this segment (higher number)" in lower
    assert "same priority: saving would be refused" in preview(
        client, dynamic, BLACK, "account", "5"
    )


def test_the_preview_follows_the_rule_as_it_is_typed(as_user, operator, dynamic, preview_world):
    client = as_user(operator)
    assert counts(preview(client, dynamic, 'metadata.tier == "silver"'))["matchCount"] == 1
    assert counts(preview(client, dynamic, 'metadata.tier != "silver"'))["matchCount"] == 4
    assert "Type a rule" in preview(client, dynamic, "   ")
    assert "This rule reads now" in preview(client, dynamic, 'createdAt < now + duration("1h")')


def test_the_field_hints_follow_the_subject(as_user, operator, dynamic):
    fragment = preview(as_user(operator), dynamic, 'metadata.program == "x"', "portfolio")
    hints = element(fragment, "rule-hints", "aside")
    assert 'hx-swap-oob="true"' in hints and "Portfolios" in hints
    assert "<code>entityId</code>" in hints and "assetCode" not in hints
    assert "portfolio.metadata" not in hints


@pytest.mark.parametrize(
    ("expression", "where", "source", "caret"),
    [
        ('metadata.tier == "black" &&& x', "Line 1, column 28: Syntax error", None, " " * 27 + "^"),
        (
            'type == "x"\n  && nope == 1',
            "Line 2, column 6: Not a field of accounts",
            "  &amp;&amp; nope == 1",
            "     ^^^^",
        ),
        ("metadata.tier ==", "Line 1, column 17: The rule ends too early", None, " " * 16 + "^"),
        (
            'type == "a" && size(name) > 1',
            "Line 1, column 16: Function calls",
            None,
            " " * 15 + "^^^^",
        ),
    ],
)
def test_a_bad_rule_is_shown_under_the_editor_at_its_position(
    as_user, operator, dynamic, expression, where, source, caret
):
    fragment = preview(as_user(operator), dynamic, expression.replace("\n", "\r\n"))
    error = element(fragment, "rule-error", "div")
    assert where in error
    line = source or escape(expression.split("\n")[0])
    assert (
        f'<pre class="rule-caret"><code>{line}\n<span class="rule-caret__mark">{caret}</span>'
        in (error)
    )
    assert "preview-counts" not in fragment


@pytest.mark.django_db(transaction=True)
def test_a_preview_past_its_time_goes_on_as_a_job_and_is_polled(
    as_user, operator, dynamic, preview_world, monkeypatch
):
    from segments.services import preview as previews

    compute = previews.compute_preview

    def slow_in_the_request(request, rule, timeout_ms=None):
        if timeout_ms is not None:
            raise previews.PreviewTimedOut
        return compute(request, rule, timeout_ms)

    monkeypatch.setattr(previews, "compute_preview", slow_in_the_request)
    client = as_user(operator)
    fragment = preview(client, dynamic, BLACK, priority="1")
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 1s"', fragment)
    assert poll and "Counting…" in fragment
    job_url = poll.group(1).replace("&amp;", "&")
    assert "subject=account" in job_url and "priority=1" in job_url
    waiting = client.get(job_url, headers=htmx("rule-preview")).text
    assert 'hx-trigger="every 1s"' in waiting and "preview-counts" not in waiting
    run_worker()  # the preview's job (and the refreshes the rules queued)
    done = client.get(job_url, headers=htmx("rule-preview")).text
    assert "hx-trigger" not in done and counts(done)["matchCount"] == 4
    monkeypatch.undo()
    assert counts(done) == counts(preview(client, dynamic, BLACK, priority="1"))


def test_any_member_may_preview_and_nothing_is_written(as_user, users, dynamic, preview_world):
    before = (SegmentRule.objects.count(), RuleRefresh.objects.count())
    fragment = preview(as_user(users["viewer"]), dynamic, BLACK)
    assert counts(fragment)["matchCount"] == 4
    assert (SegmentRule.objects.count(), RuleRefresh.objects.count()) == before


# --------------------------------------------------------------------------- save


def save(client, segment, expression=BLACK, subject="account", priority="10", **headers):
    return client.post(
        segment_path(segment, "segment_rule_save"),
        {"expression": expression, "subject": subject, "priority": priority},
        headers=headers or htmx("rule-editor"),
    )


def test_saving_makes_the_segment_dynamic_and_queues_its_refresh(as_user, operator, manual):
    response = save(as_user(operator), manual, 'metadata.tier == "black"\r\n&& !blocked')
    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["rule-changed"] is True  # the tab reloads the segment's page
    assert trigger["toast"]["message"] == "Rule saved; its members are being refreshed."
    rule = SegmentRule.objects.get(segment=manual)
    assert (rule.expression, rule.subject, rule.priority, rule.version) == (
        'metadata.tier == "black"\n&& !blocked',
        "account",
        10,
        1,
    )
    assert RuleRefresh.objects.get(segment=manual).status == RefreshStatus.QUEUED


def test_saving_without_javascript_redirects_to_the_tab(as_user, operator, manual):
    response = save(as_user(operator), manual, Accept="text/html")
    assert response.status_code == 302 and response["Location"] == segment_path(manual)
    page = as_user(operator).get(response["Location"]).text
    assert "Rule saved" in page and "Dynamic · priority 10" in page


def test_a_refused_rule_is_shown_beside_the_expression_and_nothing_is_written(
    as_user, operator, manual
):
    response = save(as_user(operator), manual, 'type == "x" && nope == 1')
    assert response.status_code == 422
    editor = response.text
    assert editor.startswith('\n      <section class="card" id="rule-editor"')  # only the editor
    field = element(editor, "rule-expression-field", "div")
    assert "Line 1, column 16: Not a field of accounts" in field
    assert '<span class="rule-caret__mark">' + " " * 15 + "^^^^</span>" in field
    assert "type == &quot;x&quot; &amp;&amp; nope == 1</textarea>" in field  # what was typed
    assert ", load" not in editor  # the error stays as shown, no preview repeats it
    assert not SegmentRule.objects.exists() and not RuleRefresh.objects.exists()


def test_a_taken_priority_is_refused_beside_the_priority(as_user, operator, manual, dynamic):
    response = save(as_user(operator), manual, priority="10")
    assert response.status_code == 422
    priority = field(response.text, "priority")
    assert "The dynamic segment “Premium” already has this priority" in priority
    assert f'href="{segment_path(dynamic, "segment")}" data-holder-link' in response.text
    assert "Premium" not in field(response.text, "expression")
    assert not SegmentRule.objects.filter(segment=manual).exists()
    assert not RuleRefresh.objects.filter(segment=manual).exists()


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"priority": ""}, "priority"),
        ({"priority": "-1"}, "priority"),
        ({"priority": "ten"}, "priority"),
        ({"expression": ""}, "expression"),
        ({"subject": "ledger"}, "subject"),
    ],
)
def test_form_errors_are_beside_their_fields(as_user, operator, manual, fields, name):
    body = {"expression": BLACK, "subject": "account", "priority": "1"} | fields
    response = as_user(operator).post(
        segment_path(manual, "segment_rule_save"), body, headers=htmx("rule-editor")
    )
    assert response.status_code == 422
    assert 'class="field-error"' in field(response.text, name)
    assert not SegmentRule.objects.exists()


def test_a_viewer_sees_the_rule_but_cannot_change_it(as_user, users, dynamic):
    client = as_user(users["viewer"])
    page = client.get(segment_path(dynamic)).text
    assert "Dynamic · priority 10" in page
    assert "rule-editor" not in page and "Refresh now" not in page and "Remove rule" not in page
    assert save(client, dynamic, priority="11").status_code == 403
    remove = client.post(segment_path(dynamic, "segment_rule_remove"), {"keep_members": "true"})
    assert remove.status_code == 403
    assert client.post(segment_path(dynamic, "segment_rule_refresh_run")).status_code == 403
    assert SegmentRule.objects.get(segment=dynamic).priority == 10
    assert RuleRefresh.objects.filter(segment=dynamic).count() == 1


def test_an_operator_may_save_but_not_remove(as_user, operator, dynamic):
    client = as_user(operator)
    assert "Remove rule" not in client.get(segment_path(dynamic)).text
    remove = client.post(segment_path(dynamic, "segment_rule_remove"), {"keep_members": "true"})
    assert remove.status_code == 403
    assert save(client, dynamic, priority="11").status_code == 204
    assert SegmentRule.objects.get(segment=dynamic).version == 2


def test_another_organization_sees_nothing(as_user, other_organization, dynamic):
    from tests.factories import UserFactory, member

    stranger = UserFactory(username="stranger")
    member(stranger, other_organization)
    client = as_user(stranger)
    assert client.get(segment_path(dynamic)).status_code == 404
    assert client.post(segment_path(dynamic, "segment_rule_preview"), {}).status_code == 404
    assert save(client, dynamic).status_code == 404


# --------------------------------------------------------------------------- remove


@pytest.fixture
def rule_members(ledger, dynamic):
    return [account(ledger, "black", dynamic, AssignedBy.RULE) for _ in range(2)]


@pytest.mark.parametrize("keep", [True, False])
def test_removing_the_rule_keeps_or_removes_its_members(
    as_user, admin_user, dynamic, rule_members, keep
):
    client = as_user(admin_user)
    page = client.get(segment_path(dynamic)).text
    assert 'name="keep_members" value="true" required' in element(page, "rule-remove")
    response = client.post(
        segment_path(dynamic, "segment_rule_remove"),
        {"keep_members": "true" if keep else "false"},
        headers=htmx(),
    )
    assert response.status_code == 204
    toast = json.loads(response["HX-Trigger"])["toast"]["message"]
    assert not SegmentRule.objects.filter(segment=dynamic).exists()
    members = Account.objects.filter(pk__in=[a.pk for a in rule_members])
    if keep:
        assert toast == "Rule removed; its 2 members stay, as members added by hand."
        assert {(a.segment_id, a.segment_assigned_by) for a in members} == {
            (dynamic.pk, AssignedBy.MANUAL)
        }
    else:
        assert toast == "Rule removed; its 2 members left the segment."
        assert {a.segment_id for a in members} == {None}
    assert "This segment is manual" in client.get(segment_path(dynamic)).text


def test_removing_needs_the_choice(as_user, admin_user, dynamic, rule_members):
    response = as_user(admin_user).post(
        segment_path(dynamic, "segment_rule_remove"), {}, headers=htmx()
    )
    assert response.status_code == 422
    message = json.loads(response["HX-Trigger"])["toast"]["message"]
    assert message == "Choose whether the rule’s members stay or leave the segment."
    assert SegmentRule.objects.filter(segment=dynamic).exists()
    assert not SegmentHistory.objects.filter(segment=dynamic, action="rule_deleted").exists()


def test_removing_a_rule_already_gone_says_so(as_user, admin_user, manual):
    response = as_user(admin_user).post(
        segment_path(manual, "segment_rule_remove"), {"keep_members": "true"}, headers=htmx()
    )
    assert response.status_code == 422
    assert "no rule any more" in response["HX-Trigger"]


# --------------------------------------------------------------------------- refreshes


def refresh_panel(client, segment) -> str:
    response = client.get(segment_path(segment, "segment_rule_refresh"), headers=htmx())
    assert response.status_code == 200
    return response.text


def test_the_refresh_status_polls_until_it_ends(as_user, operator, dynamic):
    client = as_user(operator)
    refresh = RuleRefresh.objects.get(segment=dynamic)
    assert 'hx-trigger="every 1s"' in refresh_panel(client, dynamic)
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        status=RefreshStatus.RUNNING, scanned=1500, added=700, started_at=timezone.now()
    )
    running = refresh_panel(client, dynamic)
    assert 'hx-trigger="every 1s"' in running and "Running" in running and "<progress" in running
    assert 'data-count="scanned">1500<' in running and 'data-count="added">700<' in running
    RuleRefresh.objects.filter(pk=refresh.pk).update(
        status=RefreshStatus.DONE, scanned=3000, added=1200, removed=4, finished_at=timezone.now()
    )
    done = refresh_panel(client, dynamic)
    assert "hx-trigger" not in done and "<progress" not in done  # polling stops
    assert 'data-status="done"' in done and 'data-count="removed">4<' in done
    assert "The segment has 0 members now." in done
    RuleRefresh.objects.filter(pk=refresh.pk).update(status=RefreshStatus.FAILED, error="boom")
    failed = refresh_panel(client, dynamic)
    assert "hx-trigger" not in failed and "It failed: boom" in failed


def test_the_refresh_panel_without_javascript_is_the_tab(as_user, operator, dynamic):
    response = as_user(operator).get(segment_path(dynamic, "segment_rule_refresh"))
    assert response.status_code == 302 and response["Location"] == segment_path(dynamic)


def test_refresh_now_queues_one_and_follows_it(as_user, operator, dynamic):
    RuleRefresh.objects.filter(segment=dynamic).update(status=RefreshStatus.DONE)
    response = as_user(operator).post(
        segment_path(dynamic, "segment_rule_refresh_run"), headers=htmx("rule-refresh")
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Refresh queued"
    latest = RuleRefresh.objects.filter(segment=dynamic).order_by("-created_at").first()
    assert (latest.cause, latest.status) == ("requested", RefreshStatus.QUEUED)
    assert 'data-status="queued"' in response.text and 'hx-trigger="every 1s"' in response.text


def test_refresh_now_on_a_manual_segment_is_refused(as_user, operator, manual):
    response = as_user(operator).post(
        segment_path(manual, "segment_rule_refresh_run"), headers=htmx("rule-refresh")
    )
    assert response.status_code == 422 and "no rule any more" in response["HX-Trigger"]
    assert not RuleRefresh.objects.exists()


# --------------------------------------------------------------------------- members tab


def test_a_dynamic_segment_has_no_manual_member_controls(
    as_user, operator, dynamic, rule_members, black
):
    client = as_user(operator)
    page = client.get(segment_path(dynamic, "segment_members")).text
    assert "This segment is dynamic: its members are chosen by" in page
    assert "Add accounts" not in page and 'id="members-bulk"' not in page
    assert "Remove from the segment" not in page and 'name="account_ids"' not in page
    assert all(a.name in page for a in rule_members)  # the members are listed all the same
    # A manual segment keeps them.
    manual_page = client.get(segment_path(black, "segment_members")).text
    assert "Add accounts" in manual_page and 'id="members-bulk"' in manual_page
    assert "This segment is dynamic" not in manual_page


def test_the_picker_of_a_dynamic_segment_says_why_and_adds_nothing(
    as_user, operator, ledger, dynamic
):
    client = as_user(operator)
    picker = client.get(segment_path(dynamic, "segment_members_add"), headers=htmx("dialog-body"))
    assert "This segment is dynamic" in picker.text
    free = account(ledger, "gold")
    response = client.post(
        segment_path(dynamic, "segment_members_add"),
        {"kind": "accounts", "account_ids": [str(free.pk)]},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    assert "This segment is dynamic: its rule chooses its members." in response.text
    assert Account.objects.get(pk=free.pk).segment_id is None


def test_the_accounts_tab_offers_no_dynamic_segment_to_set_by_hand(
    as_user, operator, ledger, dynamic, black
):
    tab = (
        as_user(operator)
        .get(url("ledger_accounts", organization_id=ledger.organization_id, ledger_id=ledger.pk))
        .text
    )
    bulk = element(tab, "accounts-bulk", "form")
    option = re.search(rf'<option value="{dynamic.pk}"[^>]*>[^<]*</option>', bulk).group(0)
    assert " disabled>" in option and "(dynamic: chosen by its rule)" in option
    manual_option = re.search(rf'<option value="{black.pk}"[^>]*>', bulk).group(0)
    assert "disabled" not in manual_option


def test_the_account_form_refuses_a_dynamic_segment_beside_the_field(
    as_user, operator, ledger, dynamic
):
    member = account(ledger)
    response = as_user(operator).post(
        url(
            "account_edit",
            organization_id=ledger.organization_id,
            ledger_id=ledger.pk,
            account_id=member.pk,
        ),
        {"name": "x", "status": "ACTIVE", "segment_id": str(dynamic.pk), "portfolio_id": ""},
        headers=htmx("dialog-body"),
    )
    assert response.status_code == 422
    segment_field = response.text.split('for="id_segment_id"')[1].split("</select>")[1]
    assert '<p class="field-error">This segment is dynamic: its rule chooses its members.' in (
        segment_field
    )
    assert Account.objects.get(pk=member.pk).segment_id is None


# --------------------------------------------------------------------------- lists


@pytest.mark.parametrize("dynamic_count", [0, 3])
def test_the_lists_say_dynamic_with_the_priority_in_constant_queries(
    as_user, operator, ledger, organization, dynamic_count, django_assert_num_queries
):
    for number in range(4):
        segment = services.create_segment(operator, ledger, name=f"Segment {number}")
        if number < dynamic_count:
            services.put_rule(operator, segment, BLACK, "account", 20 + number)
    group = services.create_segment(operator, organization, name="Group")
    if dynamic_count:
        services.put_rule(operator, group, "blocked", "account", 1)
    client = as_user(operator)
    tab = url("ledger_segments", organization_id=organization.pk, ledger_id=ledger.pk)
    client.get(tab)  # session and caches warm
    with django_assert_num_queries(8):
        page = client.get(tab).text
    assert page.count("data-dynamic>") == dynamic_count
    for number in range(dynamic_count):
        assert f"Dynamic · priority {20 + number}" in page
    org_page = url("organization", organization_id=organization.pk)
    client.get(org_page)
    with django_assert_num_queries(6):
        org = client.get(org_page).text
    assert org.count("Dynamic · priority 1<") == (1 if dynamic_count else 0)


# --------------------------------------------------------------------------- account page


@pytest.fixture
def ranked(ledger, operator, organization):
    """Gold (5) ``metadata.vip == "yes"``, Black (10) ``tier == "black" && !blocked``, Group
    (organization, 20) ``metadata.score > 700``."""
    gold = services.create_segment(operator, ledger, name="Gold")
    black = services.create_segment(operator, ledger, name="Black")
    group = services.create_segment(operator, organization, name="Group")
    services.put_rule(operator, gold, 'metadata.vip == "yes"', "account", 5)
    services.put_rule(operator, black, 'metadata.tier == "black" && !blocked', "account", 10)
    services.put_rule(operator, group, "metadata.score > 700", "account", 20)
    return {"gold": gold, "black": black, "group": group}


def why(page: str) -> str:
    return element(page, "account-why")


def candidate(section: str, segment: Segment) -> str:
    found = re.search(
        rf'<li class="why-list__item" data-segment="{segment.pk}".*?</ul>', section, re.S
    )
    return found.group(0) if found else ""


def test_the_account_page_says_why_it_is_in_its_segment(as_user, operator, ledger, ranked):
    member = account(
        ledger, segment=ranked["gold"], by=AssignedBy.RULE,
        metadata={"tier": "black", "vip": "yes", "score": True},
    )  # fmt: skip
    section = why(as_user(operator).get(account_url(member)).text)
    assert "Why is this account in this segment?" in section
    assert 'data-pinned="false"' in section and "by its rule: not pinned" in section
    gold, black, group = (candidate(section, ranked[name]) for name in ("gold", "black", "group"))
    assert 'data-matched="true"' in gold and "Its segment" in gold and "Lost to" not in gold
    assert 'data-matched="true"' in black and "priority 10" in black
    assert re.search(r'Lost to <a class="link" href="[^"]+">Gold</a>', black)
    assert "(a lower priority number wins)" in black
    assert (
        '<li data-value="true"><code>metadata.tier == &quot;black&quot;</code> → <strong>yes'
        in black
    )
    assert '<li data-value="true"><code>!blocked</code>' in black
    # The typing trap: true is no number above 700 — a CEL error, so no match.
    assert 'data-matched="false"' in group and 'data-value="error"' in group
    assert "cannot say" in group
    assert section.index(str(ranked["gold"].pk)) < section.index(str(ranked["group"].pk))


def test_a_pinned_account_says_so(as_user, operator, ledger, ranked, manual):
    pinned = account(ledger, "black", manual, AssignedBy.MANUAL)
    section = why(as_user(operator).get(account_url(pinned)).text)
    assert 'data-pinned="true"' in section and "Pinned: it was assigned by hand to" in section
    black = candidate(section, ranked["black"])
    assert re.search(r'Lost to <a class="link" href="[^"]+">Manual</a>', black)
    assert "(pinned there by hand)" in black


def test_without_rules_the_section_says_so(as_user, operator, ledger):
    section = why(as_user(operator).get(account_url(account(ledger))).text)
    assert "No dynamic segment has a rule about the accounts of this ledger." in section
    assert "In no segment of its own" in section


@pytest.mark.parametrize("extra", [0, 4])
def test_the_explanation_reads_constant_queries(
    as_user, operator, ledger, ranked, extra, django_assert_num_queries
):
    for number in range(extra):
        segment = services.create_segment(operator, ledger, name=f"Extra {number}")
        services.put_rule(
            operator, segment, f'metadata.tier == "t{number}"', "account", 50 + number
        )
    member = account(ledger, "black", ranked["black"], AssignedBy.RULE)
    client = as_user(operator)
    client.get(account_url(member))
    with django_assert_num_queries(11):  # the page's 10 and the candidates' segments
        page = client.get(account_url(member)).text
    assert why(page).count('class="why-list__item"') == 3 + extra


def test_portfolios_rules_are_not_candidates_of_an_account(as_user, operator, ledger):
    students = services.create_segment(operator, ledger, name="Students")
    services.put_rule(operator, students, 'metadata.program == "x"', "portfolio", 7)
    portfolio = PortfolioFactory(ledger=ledger)
    member = account(ledger, portfolio=portfolio)
    section = why(as_user(operator).get(account_url(member)).text)
    assert "Students" not in section
