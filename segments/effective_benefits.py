"""What an account (or a portfolio) gets, and why: the one query function behind
``GET …/accounts/{id}/benefits``, ``GET …/portfolios/{id}/benefits``, ``POST
…/accounts/benefits/resolve`` and the console's "What this account gets".

The rule (``shared/spec/benefits.md``, "Effective benefits"), for an instant ``at``:

1. the effective segment is the account's own segment, else its (live) portfolio's,
   else none (then nothing applies);
2. the candidates are that segment's live benefits, each as of its version at ``at`` (a
   benefit with no version yet at ``at`` did not exist then and is left out);
3. a candidate applies when, in that version, it is ACTIVE and ``at`` is inside its window
   ``[validFrom, validUntil)``. In each exclusivity group only the lowest priority applies
   (ties: the older benefit); ungrouped benefits stack. The others are ``not_applied`` with
   their reason: ``expired``, ``notYetValid``, ``inactive`` or ``outrankedBy:<id>``.

Whatever the number of subjects and benefits, it reads one query: the benefits of every
effective segment, each with its version at ``at`` (a JSON object built by the database).
The subjects are read by the caller, with their segments and portfolios joined.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from segments.models import Account, Benefit, BenefitVersion, Portfolio, Segment, Status
from segments.models.benefits import VERSIONED_FIELDS


@dataclass(frozen=True)
class BenefitAt:
    """A benefit as of its version at an instant."""

    benefit: Benefit
    version: int
    kind: str
    parameters: dict[str, Any]
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    status_code: str
    priority: int
    exclusivity_group: str | None

    @property
    def pk(self) -> Any:
        return self.benefit.pk


@dataclass(frozen=True)
class NotApplied:
    benefit: BenefitAt
    reason: str


@dataclass
class Effective:
    """What one subject gets at ``at``; ``segment`` None when it is in no segment."""

    subject: Account | Portfolio
    at: dt.datetime
    segment: Segment | None = None
    resolved_via: str | None = None
    assigned_by: str | None = None
    items: list[BenefitAt] = field(default_factory=list)
    not_applied: list[NotApplied] = field(default_factory=list)


def effective_segment(subject: Account | Portfolio) -> tuple[Segment | None, str | None]:
    """Step 1: the subject's own segment, else its live portfolio's; and which it was."""
    if subject.segment_id is not None:
        return subject.segment, "account" if isinstance(subject, Account) else "portfolio"
    portfolio = getattr(subject, "portfolio", None)
    if portfolio is not None and portfolio.deleted_at is None and portfolio.segment_id:
        return portfolio.segment, "portfolio"
    return None, None


def _instant(value: Any) -> dt.datetime | None:
    """A datetime read back from the database's JSON (PostgreSQL's ISO text, or SQLite's
    ``YYYY-MM-DD hh:mm:ss``, which is UTC)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


def benefits_at(segment_ids: Iterable[Any], at: dt.datetime) -> dict[Any, list[BenefitAt]]:
    """Step 2, in one query: the live benefits of these segments, each as of its version
    at ``at``, by segment id, in priority order."""
    version_at = BenefitVersion.objects.filter(benefit=OuterRef("pk"), created_at__lte=at).order_by(
        "-version"
    )
    state = JSONObject(version="version", **{name: name for name in VERSIONED_FIELDS})
    rows = (
        Benefit.objects.filter(segment_id__in=set(segment_ids))
        .annotate(state_at=Subquery(version_at.values(json=state)[:1]))
        .order_by("segment_id", "priority", "created_at", "id")
    )
    found: dict[Any, list[BenefitAt]] = {}
    for benefit in rows:
        state_at = benefit.state_at
        if isinstance(state_at, str):  # SQLite hands the object back as text
            state_at = json.loads(state_at)
        if not state_at:
            continue  # not created yet at ``at``
        found.setdefault(benefit.segment_id, []).append(_as_of(benefit, state_at))
    return found


def _as_of(benefit: Benefit, state: dict[str, Any]) -> BenefitAt:
    return BenefitAt(
        benefit=benefit,
        version=int(state["version"]),
        kind=state["kind"],
        parameters=dict(state["parameters"] or {}),
        valid_from=_instant(state["valid_from"]),
        valid_until=_instant(state["valid_until"]),
        status_code=state["status_code"],
        priority=int(state["priority"]),
        exclusivity_group=state["exclusivity_group"] or None,
    )


def _unmet(candidate: BenefitAt, at: dt.datetime) -> str | None:
    if candidate.status_code != Status.ACTIVE:
        return "inactive"
    if candidate.valid_from is not None and at < candidate.valid_from:
        return "notYetValid"
    if candidate.valid_until is not None and at >= candidate.valid_until:
        return "expired"
    return None


def choose(candidates: Sequence[BenefitAt], at: dt.datetime) -> tuple[list, list]:
    """Step 3: the candidates that apply at ``at``, and the others with their reasons."""
    applied: list[BenefitAt] = []
    not_applied: list[NotApplied] = []
    winners: dict[str, BenefitAt] = {}
    for candidate in candidates:  # in priority order, then the older first
        reason = _unmet(candidate, at)
        if reason is not None:
            not_applied.append(NotApplied(candidate, reason))
            continue
        group = candidate.exclusivity_group
        if group and group in winners:
            not_applied.append(NotApplied(candidate, f"outrankedBy:{winners[group].pk}"))
            continue
        if group:
            winners[group] = candidate
        applied.append(candidate)
    return applied, not_applied


def effective_benefits(
    subjects: Iterable[Account | Portfolio], at: dt.datetime | None = None, kind: str | None = None
) -> list[Effective]:
    """What each subject gets at ``at`` (default now), only benefits of ``kind`` when
    given; the subjects are read by the caller with ``segment`` and ``portfolio__segment``
    joined (``EFFECTIVE_JOINS``)."""
    at = at or timezone.now()
    answers = []
    for subject in subjects:
        segment, via = effective_segment(subject)
        answers.append(
            Effective(subject, at, segment, via, "manual" if segment is not None else None)
        )
    by_segment = benefits_at({answer.segment.pk for answer in answers if answer.segment}, at)
    for answer in answers:
        if answer.segment is None:
            continue
        candidates = [
            candidate
            for candidate in by_segment.get(answer.segment.pk, [])
            if kind is None or candidate.kind == kind
        ]
        answer.items, answer.not_applied = choose(candidates, at)
    return answers


# What an account must be read with for ``effective_segment`` to ask nothing more.
EFFECTIVE_JOINS = {Account: ("segment", "portfolio", "portfolio__segment")}
