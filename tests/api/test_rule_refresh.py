"""A rule change's refresh as a background job (issue #14), with ``manage.py worker``
running as its own process on the test database: ``PUT S/rule`` answers with the refresh
to follow at ``S/refreshes/{id}``; ``POST S/refresh`` enqueues one; a worker killed with
SIGKILL mid-refresh leaves it resumable and the next worker finishes it with exactly the
right members (pinned ones untouched, each row counted once, its two lanes each resumed
where it was); two refreshes of one ledger
taken by two workers never run at once; rules that read ``now`` are refreshed on the
schedule."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from django_tasks_db.models import DBTaskResult

from segments.models import Account, AssignedBy, RuleRefresh, Segment
from tests.factories import AccountFactory, SegmentFactory
from tests.testing.worker import worker_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

BLACK = {"expression": 'metadata.tier == "black"', "subject": "account", "priority": 10}


@pytest.fixture
def workers(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start workers (``start(**environment)``); every one still running is stopped after."""
    started: list[subprocess.Popen] = []

    def start(**environment: str) -> subprocess.Popen:
        process = worker_process(tmp_path / f"worker-{len(started)}.log", **environment)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    for log in sorted(tmp_path.glob("worker-*.log")):
        print(log.name, log.read_text()[-3000:])


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    pytest.fail(f"waited {timeout} s for {what}")


def accounts(ledger, count: int, **fields) -> None:
    Account.objects.bulk_create(
        [
            Account(
                ledger=ledger,
                organization_id=ledger.organization_id,
                name=f"Bulk {index}",
                type="deposit",
                asset_code="BRL",
                metadata={"tier": "black" if index % 2 else "gold"},
                **fields,
            )
            for index in range(count)
        ],
        batch_size=5_000,
    )


def refresh_of(tenant, segment, refresh_id) -> dict:
    url = f"{tenant['ledger_url']}/segments/{segment.pk}/refreshes/{refresh_id}"
    response = tenant["api"].get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_worker_killed_mid_refresh_leaves_it_to_the_next_one_which_ends_it_exactly(
    tenant, workers
):
    ledger = tenant["ledger"]
    black = SegmentFactory(ledger=ledger, name="Black")
    manual = SegmentFactory(ledger=ledger, name="Manual")
    accounts(ledger, 20_000)
    pinned = AccountFactory(ledger=ledger, metadata={"tier": "black"}, segment=manual)
    Account.objects.filter(pk=pinned.pk).update(segment_assigned_by=AssignedBy.MANUAL)
    put = tenant["api"].put(f"{tenant['ledger_url']}/segments/{black.pk}/rule", BLACK, "json")
    assert put.status_code == 200, put.content
    refresh_id = put.json()["refresh"]["id"]
    first = workers(SEGMENTS_REFRESH_BATCH="100")
    wait_for(
        lambda: refresh_of(tenant, black, refresh_id)["scanned"] >= 2_000, "the refresh to run"
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    halfway = refresh_of(tenant, black, refresh_id)
    assert halfway["status"] == "running"
    lanes = RuleRefresh.objects.get(pk=refresh_id).cursor["lanes"]
    assert len(lanes) == 2  # 20,001 rows are two lanes of 100-row batches, side by side
    assert 2_000 <= halfway["scanned"] < 20_001
    assert Account.objects.filter(segment=black).count() == halfway["added"] < 10_001

    workers(SEGMENTS_REFRESH_BATCH="100")
    done = wait_for(
        lambda: (body := refresh_of(tenant, black, refresh_id))["status"] == "done" and body,
        "the next worker to finish the refresh",
    )
    assert (done["scanned"], done["added"], done["removed"]) == (20_001, 10_000, 0)
    assert done["error"] is None and done["finishedAt"] and done["ruleVersion"] == 1
    members = set(Account.objects.filter(segment=black).values_list("pk", flat=True))
    expected = Account.objects.filter(metadata__tier="black").exclude(pk=pinned.pk)
    assert members == set(expected.values_list("pk", flat=True))
    assert Account.objects.get(pk=pinned.pk).segment_id == manual.pk
    black.refresh_from_db()
    assert black.account_count == 10_000
    resumed = DBTaskResult.objects.get(id=RuleRefresh.objects.get(pk=refresh_id).task_id)
    assert resumed.status == "SUCCESSFUL"  # the task enqueued again to resume it
    assert DBTaskResult.objects.filter(status="FAILED").count() == 1  # the killed run


def test_two_refreshes_of_one_ledger_taken_by_two_workers_run_one_after_the_other(tenant, workers):
    ledger = tenant["ledger"]
    black = SegmentFactory(ledger=ledger, name="Black")
    accounts(ledger, 10_000)
    url = f"{tenant['ledger_url']}/segments/{black.pk}"
    first = tenant["api"].put(f"{url}/rule", BLACK, "json").json()["refresh"]["id"]
    requested = tenant["api"].post(f"{url}/refresh")
    assert requested.status_code == 202, requested.content
    assert requested.json()["status"] == "queued"
    second = requested.json()["id"]
    workers(SEGMENTS_REFRESH_BATCH="100")
    workers(SEGMENTS_REFRESH_BATCH="100")
    ended = [
        wait_for(
            lambda refresh_id=refresh_id: (
                (body := refresh_of(tenant, black, refresh_id))["status"] == "done" and body
            ),
            "both refreshes to end",
        )
        for refresh_id in (first, second)
    ]
    earlier, later = sorted(ended, key=lambda body: body["startedAt"])
    assert earlier["finishedAt"] <= later["startedAt"]
    assert sorted(body["added"] for body in ended) == [0, 5_000]  # the second found nothing
    runs = DBTaskResult.objects.filter(
        id__in=RuleRefresh.objects.filter(pk__in=[first, second]).values("task_id")
    )
    assert len({tuple(run.worker_ids) for run in runs}) == 2  # each worker took one


def test_rules_that_read_now_are_refreshed_on_the_schedule(tenant, workers):
    ledger = tenant["ledger"]
    recent = SegmentFactory(ledger=ledger, name="Opened in the last seconds")
    rule = {"expression": 'createdAt > now - duration("3s")', "subject": "account", "priority": 1}
    put = tenant["api"].put(f"{tenant['ledger_url']}/segments/{recent.pk}/rule", rule, "json")
    assert put.json()["timeDependent"] is True
    workers(SEGMENTS_TIME_RULES_REFRESH_SECONDS="1")
    # The rule's own refresh ends first: started late on a loaded machine, it would
    # otherwise be the one to take the aged account out, and no scheduled one would.
    first = RuleRefresh.objects.filter(segment=recent).exclude(cause="schedule")
    wait_for(lambda: first.filter(status="done").exists(), "the rule's own refresh to end")
    created = tenant["api"].post(
        f"{tenant['ledger_url']}/accounts", {"assetCode": "BRL", "type": "deposit"}, "json"
    )
    assert created.json()["segmentId"] == str(recent.pk)  # new, so the rule takes it at once
    account_url = f"{tenant['ledger_url']}/accounts/{created.json()['id']}"
    wait_for(
        lambda: tenant["api"].get(account_url).json()["segmentId"] is None,
        "the schedule to take the account out once it is older than 3 s",
        timeout=60,
    )
    scheduled = RuleRefresh.objects.filter(segment=recent, cause="schedule", removed=1)
    wait_for(lambda: scheduled.filter(status="done").exists(), "the scheduled refresh to end")
    assert Segment.objects.get(pk=recent.pk).account_count == 0
