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
effective segment, each with its version at ``at`` (a JSON object built by the database),
as plain rows. The subjects are read by the caller, with their segments and portfolios
joined (``EFFECTIVE_JOINS``), or, for many accounts, by ``place_accounts``: one query of
the few columns step 1 and the answer read, one model instance per segment. The
subjects of one segment share one choice (the same ``items`` and ``not_applied`` lists).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import DateTimeField, Model, OuterRef, Q, QuerySet, Subquery, UUIDField
from django.db.models.functions import JSONObject
from django.utils import timezone

from segments.models import Account, Benefit, BenefitVersion, Portfolio, Segment, Status
from segments.models.benefits import VERSIONED_FIELDS
from segments.prepared import PreparedQuery


def in_field_order(model: type[Model], *names: str) -> tuple[str, ...]:
    """``names`` (column attributes) in the order of the model's fields: the order
    ``Model.from_db`` takes a subset of the fields in."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


# The columns of a benefit's own row that an answer reads (the rest is its version's).
BENEFIT_ROW = in_field_order(Benefit, "id", "name", "segment_id", "organization_id", "ledger_id")
BENEFIT_NAME, BENEFIT_SEGMENT = BENEFIT_ROW.index("name"), BENEFIT_ROW.index("segment_id")


@dataclass(frozen=True)
class BenefitAt:
    """A benefit as of its version at an instant: its id and name, and the versioned fields
    as that version has them. ``benefit`` is the benefit itself, made when first asked
    from the columns read (``BENEFIT_ROW``; another field is read from the database when
    asked): a resolve reads ~1,000 benefits and needs no model instance of them."""

    row: tuple = field(repr=False)  # the BENEFIT_ROW columns, in that order (id first)
    version: int
    kind: str
    parameters: dict[str, Any]
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    status_code: str
    priority: int
    exclusivity_group: str | None
    database: str = field(default="default", repr=False)

    @property
    def pk(self) -> Any:
        return self.row[0]

    @property
    def name(self) -> str:
        return self.row[BENEFIT_NAME]

    @cached_property
    def benefit(self) -> Benefit:
        return Benefit.from_db(self.database, BENEFIT_ROW, self.row)


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


# A subject after step 1: its effective segment, which it was, and how it got there.
Placed = tuple[Account | Portfolio, Segment | None, str | None, str | None]


def _placed(
    own: Segment | None,
    portfolios: Segment | None,
    via_own: str,
    assigned: tuple[str | None, str | None] = (None, None),
) -> tuple:
    """Step 1's rule: the subject's own segment (``via_own``), else its live portfolio's
    (``portfolios``, None when the portfolio is deleted or in no segment), else none; with
    how the one chosen was assigned (``assigned``: the subject's and its portfolio's
    ``segment_assigned_by``; ``rule``, else ``manual``)."""
    if own is not None:
        return own, via_own, "rule" if assigned[0] == "rule" else "manual"
    if portfolios is not None:
        return portfolios, "portfolio", "rule" if assigned[1] == "rule" else "manual"
    return None, None, None


def effective_segment(
    subject: Account | Portfolio,
) -> tuple[Segment | None, str | None, str | None]:
    """Step 1 for a subject read with its joins (``EFFECTIVE_JOINS``): its effective
    segment, which it was, and how it was assigned."""
    own = subject.segment if subject.segment_id is not None else None
    portfolio = getattr(subject, "portfolio", None)
    live = portfolio is not None and portfolio.deleted_at is None and portfolio.segment_id
    via_own = "account" if isinstance(subject, Account) else "portfolio"
    assigned = (subject.segment_assigned_by, portfolio.segment_assigned_by if live else None)
    return _placed(own, portfolio.segment if live else None, via_own, assigned)


# What an answer shows of a segment, and what step 1 reads of an account (id first).
_SEGMENT_COLUMNS = in_field_order(Segment, "id", "name", "organization_id", "ledger_id")
_ACCOUNT_COLUMNS = in_field_order(
    Account, "id", "segment_id", "portfolio_id", "segment_assigned_by"
)


def place_accounts(accounts: QuerySet[Account]) -> list[Placed]:
    """Step 1 for many accounts in one query, without a model instance per joined row:
    each account (only its id, segment and portfolio ids; another field is read from the
    database when asked) with its effective segment (one instance per segment, only the
    columns an answer shows) and which it was."""
    own = [f"segment__{name}" for name in _SEGMENT_COLUMNS]
    portfolios = [f"portfolio__segment__{name}" for name in _SEGMENT_COLUMNS]
    rows = accounts.order_by().values_list(
        *_ACCOUNT_COLUMNS,
        *own,
        "portfolio__deleted_at",
        "portfolio__segment_assigned_by",
        *portfolios,
    )
    segments: dict[Any, Segment] = {}

    def segment(columns: tuple) -> Segment | None:
        if columns[0] is None:
            return None
        if columns[0] not in segments:
            segments[columns[0]] = Segment.from_db(rows.db, _SEGMENT_COLUMNS, columns)
        return segments[columns[0]]

    first, width = len(_ACCOUNT_COLUMNS), len(_SEGMENT_COLUMNS)
    placed = []
    for row in rows:
        account = Account.from_db(rows.db, _ACCOUNT_COLUMNS, row[:first])
        own_columns = row[first : first + width]
        portfolio_deleted, portfolio_by = row[first + width], row[first + width + 1]
        portfolio_columns = row[first + width + 2 :]
        of_portfolio = segment(portfolio_columns) if portfolio_deleted is None else None
        assigned = (account.segment_assigned_by, portfolio_by)
        placed.append((account, *_placed(segment(own_columns), of_portfolio, "account", assigned)))
    return placed


def _instant(value: Any) -> dt.datetime | None:
    """A datetime read back from the database's JSON (PostgreSQL's ISO text, or SQLite's
    ``YYYY-MM-DD hh:mm:ss``, which is UTC)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


def _benefit_rows(segments: Q, at: Any) -> QuerySet[Benefit]:
    """The live benefits of ``segments``, each with its state as of ``at`` (``state_at``:
    its version then, a JSON object; null before it existed), in priority order."""
    version_at = BenefitVersion.objects.filter(benefit=OuterRef("pk"), created_at__lte=at).order_by(
        "-version"
    )
    state = JSONObject(version="version", **{name: name for name in VERSIONED_FIELDS})
    return (
        Benefit.objects.filter(segments)
        .annotate(state_at=Subquery(version_at.values(json=state)[:1]))
        .order_by("segment_id", "priority", "created_at", "id")
        .values_list(*BENEFIT_ROW, "state_at")
    )


# One account's or portfolio's benefits (one segment): every such request reads it.
_BENEFITS_OF_ONE_SEGMENT = PreparedQuery(
    lambda segment_id, at: _benefit_rows(Q(segment_id=segment_id), at),
    segment_id=UUIDField(),
    at=DateTimeField(),
)


def benefits_at(segment_ids: Iterable[Any], at: dt.datetime) -> dict[Any, list[BenefitAt]]:
    """Step 2, in one query: the live benefits of these segments, each as of its version
    at ``at``, by segment id, in priority order."""
    segment_ids = set(segment_ids)
    if len(segment_ids) == 1:
        rows = _BENEFITS_OF_ONE_SEGMENT(segment_id=next(iter(segment_ids)), at=at)
    else:
        rows = _benefit_rows(Q(segment_id__in=segment_ids), at)
    found: dict[Any, list[BenefitAt]] = {}
    for *row, state_at in rows:
        if isinstance(state_at, str):  # SQLite hands the object back as text
            state_at = json.loads(state_at)
        if not state_at:
            continue  # not created yet at ``at``
        found.setdefault(row[BENEFIT_SEGMENT], []).append(_as_of(tuple(row), state_at, rows.db))
    return found


def _as_of(row: tuple, state: dict[str, Any], database: str) -> BenefitAt:
    return BenefitAt(
        row=row,
        database=database,
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
    return answers_for([(subject, *effective_segment(subject)) for subject in subjects], at, kind)


def answers_for(
    placed: Iterable[Placed], at: dt.datetime | None = None, kind: str | None = None
) -> list[Effective]:
    """Steps 2 and 3 for subjects placed in their effective segments (step 1:
    ``effective_segment`` or ``place_accounts``), in one query."""
    at = at or timezone.now()
    answers = [
        Effective(subject, at, segment, via, assigned_by)
        for subject, segment, via, assigned_by in placed
    ]
    by_segment = benefits_at({answer.segment.pk for answer in answers if answer.segment}, at)
    decided: dict[Any, tuple[list, list]] = {}  # one choice per segment, shared by its answers
    for answer in answers:
        if answer.segment is None:
            continue
        if answer.segment.pk not in decided:
            # Chosen among every kind (a cashback may outrank a service of its group), then
            # narrowed to ``kind``.
            items, missed = choose(by_segment.get(answer.segment.pk, []), at)
            if kind is not None:
                items = [item for item in items if item.kind == kind]
                missed = [entry for entry in missed if entry.benefit.kind == kind]
            decided[answer.segment.pk] = (items, missed)
        answer.items, answer.not_applied = decided[answer.segment.pk]
    return answers


# What an account must be read with for ``effective_segment`` to ask nothing more.
EFFECTIVE_JOINS = {Account: ("segment", "portfolio", "portfolio__segment")}
