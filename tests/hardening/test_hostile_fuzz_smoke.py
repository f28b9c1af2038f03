"""The hostile fuzzer (``bench/hostile_fuzz.py``) in the suite: its strategies — NUL and
control characters, lone surrogates, huge numbers and ``NaN``, dates at the calendar's
edges, deep nesting, duplicate keys, cursors of the wrong JSON types, look-alike unicode
— sent in-process (Django's test client, CSRF enforced, a signed-in session) to every
API route and every console form, a few hundred requests in all. It fails on any 5xx, on
any write (row counts, greatest ``updated_at``) under a 4xx, on an API 4xx that is not a
problem document, on duplicate JSON keys accepted, on a look-alike name stored and on a
formula in a CSV export. CI also runs the fuzzer itself over HTTP (≥ 5,000 requests).
"""

from __future__ import annotations

import io
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.hostile_fuzz import (
    PASSWORD,
    USERNAME,
    DjangoClientTransport,
    Probe,
    fuzz,
    prepare,
    report,
)
from bench.live_server import seed_rows
from segments.models import ApiToken

REQUESTS = 300
SECONDS = 240


def _execute(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_hostile_inputs_answer_4xx_without_writing():
    ids = seed_rows(USERNAME, PASSWORD, "admin", victims=5)
    _, token = ApiToken.issue(get_user_model().objects.get(pk=ids["user_id"]), name="fuzz")
    transport = DjangoClientTransport()
    started = time.monotonic()
    run, recipes = prepare(transport, ids, token, Probe(_execute), REQUESTS, started + SECONDS)
    try:
        fuzz(run, recipes, seed=7)
    finally:
        transport.close()

    figures = io.StringIO()
    ok = report(run.tally, REQUESTS, time.monotonic() - started, out=figures)
    assert run.tally.sent >= REQUESTS, figures.getvalue()
    assert ok, figures.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_probe_sees_every_kind_of_write():
    """The write check of the fuzzer is not blind: an insert, an update and a look-alike
    name stored behind the services' back all show in the probe's snapshots."""
    from segments.models import Segment

    ids = seed_rows(USERNAME, PASSWORD, "admin", victims=0)
    probe = Probe(_execute)
    before = probe.snapshot()
    segment = Segment.objects.get(pk=ids["segment"])
    Segment.objects.filter(pk=segment.pk).update(name="Bl\u200back", updated_at=timezone.now())
    after_update = probe.snapshot()
    assert "segments_segment max(updated_at)" in " ".join(probe.writes(before, after_update))
    assert probe.look_alikes(before, after_update) == ["segments_segment.name look-alike: 0 -> 1"]

    Segment.objects.create(
        organization_id=segment.organization_id, ledger_id=segment.ledger_id, name="New"
    )
    after_insert = probe.snapshot()
    assert any(
        change.startswith("segments_segment rows")
        for change in probe.writes(after_update, after_insert)
    )
