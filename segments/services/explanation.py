"""Why an account is (or is not) in a dynamic segment (``explain_account``), read-only.

The rules:

- The candidates are the rules about accounts that cover the account's ledger (its
  ledger's and its organization's) of live ACTIVE dynamic segments — the rules that
  decide its membership — lowest priority first.
- Each candidate says whether its rule matches the account and the value of each of its
  top-level clauses for the account (true, false, or null for a CEL error such as a
  missing key or a type mismatch), by cel-python's evaluation (``segments.rules.explain``),
  which the parity test holds to the SQL that places members.
- A matching candidate that does not have the account says who does (``lostTo``): the
  lowest-priority matching rule's segment, or, when the account is pinned (assigned by
  hand: no rule moves it), the segment it is pinned to.
- Two queries whatever the number of rules: the account (the caller's) and the rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from segments.models import Account, AssignedBy, RuleSubject, SegmentRule, Status
from segments.rules import evaluate, explain, row_values
from segments.services.evaluation import checked


def explain_account(account: Account, now: dt.datetime | None = None) -> dict[str, Any]:
    """The account's segment, whether it is pinned, and every candidate rule (the
    module's rules); ``account`` has its ``portfolio`` selected (its metadata is read)."""
    now = now or timezone.now()
    pinned = account.segment_id is not None and account.segment_assigned_by != AssignedBy.RULE
    values = row_values(account, RuleSubject.ACCOUNT.value)
    candidates = [
        _candidate(segment_id, name, priority, expression, values, now)
        for segment_id, name, priority, expression in _rules_of(account)
    ]
    winner = account.segment_id if pinned else _first_match(candidates)
    for candidate in candidates:
        if candidate["matched"] and winner is not None and candidate["segmentId"] != str(winner):
            candidate["lostTo"] = str(winner)
    return {
        "accountId": str(account.pk),
        "segmentId": str(account.segment_id) if account.segment_id else None,
        "segmentAssignedBy": account.segment_assigned_by,
        "pinned": pinned,
        "candidates": candidates,
    }


def _rules_of(account: Account) -> list[tuple[Any, str, int, str]]:
    return list(
        SegmentRule.objects.filter(
            Q(ledger_id=account.ledger_id) | Q(ledger_id__isnull=True),
            organization_id=account.organization_id,
            subject=RuleSubject.ACCOUNT,
            segment__deleted_at__isnull=True,
            segment__status_code=Status.ACTIVE,
        )
        .order_by("priority")
        .values_list("segment_id", "segment__name", "priority", "expression")
    )


def _candidate(
    segment_id: Any, name: str, priority: int, expression: str, values: dict, now: dt.datetime
) -> dict[str, Any]:
    rule = checked(expression, RuleSubject.ACCOUNT.value)
    return {
        "segmentId": str(segment_id),
        "name": name,
        "priority": priority,
        "matched": evaluate(rule, values, now=now),
        "clauses": [
            {"text": text, "value": value} for text, value in explain(rule, values, now=now)
        ],
    }


def _first_match(candidates: list[dict[str, Any]]) -> str | None:
    return next((c["segmentId"] for c in candidates if c["matched"]), None)
