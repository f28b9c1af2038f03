"""The one lock order of every change of membership, and the retry of a lost race.

Every transaction that may change which segment an account or portfolio is in takes its
row locks in this order, never going back to an earlier step once it holds a later one:

1. the parents it creates under (organization, then ledger), held ``FOR KEY SHARE``
   (``services.rows.hold_parent``);
2. **segments, in id order**, ``FOR UPDATE``: the segments its members join AND every
   segment they are in now (a move, a delete or a removal changes that segment's member
   counter: the triggers of ``segments.counters`` update it, also in id order, so they
   only ever touch segments already locked here);
3. **portfolios, in id order**, ``FOR UPDATE`` (or ``FOR KEY SHARE`` for one named as an
   account's portfolio);
4. **accounts, in id order**, ``FOR UPDATE`` (or ``FOR KEY SHARE`` for a parent account).

Two transactions that both follow this order cannot wait for each other in a cycle, so
membership changes never deadlock each other. Who follows it:

- ``lock_members`` — every change of explicit members: creating, updating and deleting
  one account or portfolio, ``assign_members``, ``remove_members``, ``clear_segments``
  (the API, the console, the admin and the import command all go through those
  services). Which segments to lock depends on where the members are now, so it reads
  that first, locks segments then rows, and when a member moved meanwhile into a segment
  it did not lock, it rolls back to a savepoint (which releases what it took there) and
  starts again.
- ``lock_segments`` alone — a change that locks no member row before its segments:
  ``segment_for_member`` (a new member joining), ``assign_accounts_matching`` (locks the
  segments its candidates are in, then, in one statement, the rows in id order, leaving
  out any row that moved meanwhile into a segment it did not lock), and
  ``delete_segment`` (its detach updates the members of a segment it holds: any other
  transaction that locks one of them and then waits for more holds that segment first).
- A change of an account or portfolio that leaves its segment, portfolio and deleted
  state alone (a rename) locks only that row and waits for nothing after it.

A deadlock or serialization failure that happens anyway (an outer transaction that took
locks in another order, a path outside the services) is not an outage: ``atomic_service``
runs the service once more and then answers ``ConcurrentChange`` (409 ``9009``).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, transaction

from segments import errors
from segments.models import Account, Portfolio, Segment

logger = logging.getLogger("segments.locking")

SERVICE_ATTEMPTS = 2
MOVED_ATTEMPTS = 5

_in_service: contextvars.ContextVar[bool] = contextvars.ContextVar("in_service", default=False)


def atomic_service[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """``transaction.atomic`` for a service, retried once when it loses a race for locks
    (``errors.is_lock_conflict``); a second loss raises ``ConcurrentChange`` (409, 9009),
    never "database unavailable". A service called by another service runs in that one's
    transaction and the outermost retries the whole; inside a caller's transaction
    (idempotency, the admin) the retry rolls back to the service's savepoint only.
    Iterator arguments are read once into lists, so that a retry sees the same ids."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        args = tuple(list(arg) if isinstance(arg, Iterator) else arg for arg in args)
        kwargs = {
            name: list(value) if isinstance(value, Iterator) else value
            for name, value in kwargs.items()
        }
        if _in_service.get():
            with transaction.atomic():
                return func(*args, **kwargs)
        token = _in_service.set(True)
        try:
            for attempt in range(1, SERVICE_ATTEMPTS + 1):
                try:
                    with transaction.atomic():
                        return func(*args, **kwargs)
                except OperationalError as exc:
                    if not errors.is_lock_conflict(exc):
                        raise
                    logger.warning(
                        "%s lost a race for locks (attempt %d): %s", func.__name__, attempt, exc
                    )
                    if attempt == SERVICE_ATTEMPTS:
                        raise errors.ConcurrentChange() from exc
            raise AssertionError("unreachable")
        finally:
            _in_service.reset(token)

    return wrapper


def lock_segments(segment_ids: Iterable[Any], *, organization_id: Any) -> dict[Any, Segment]:
    """Step 2: lock these segments of the organization (deleted ones too), in id order, in
    one statement; returns them by id. Ids of other organizations are not locked (a
    client-given id never holds another tenant's row)."""
    ids = {pk for pk in segment_ids if pk is not None}
    if not ids:
        return {}
    rows = (
        Segment.all_objects.select_for_update()
        .filter(pk__in=ids, organization_id=organization_id)
        .order_by("pk")
    )
    return {segment.pk: segment for segment in rows}


@dataclass
class LockedMembers:
    """What ``lock_members`` holds: the segments by id, and each locked account and
    portfolio's current segment id (None when it has none)."""

    segments: dict[Any, Segment] = field(default_factory=dict)
    accounts: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)
    portfolios: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)


class _MovedMeanwhile(Exception):
    pass


def _segments_now(model: type[Account | Portfolio], ids: list, organization_id) -> set:
    if not ids:
        return set()
    return set(
        model.all_objects.filter(pk__in=ids, organization_id=organization_id)
        .exclude(segment_id=None)
        .values_list("segment_id", flat=True)
        .distinct()
    )


def _lock_rows(model: type[Account | Portfolio], ids: list, organization_id) -> dict:
    if not ids:
        return {}
    return dict(
        model.all_objects.select_for_update()
        .filter(pk__in=ids, organization_id=organization_id)
        .order_by("pk")
        .values_list("pk", "segment_id")
    )


def lock_members(
    organization_id: Any,
    *,
    segments: Iterable[Any] = (),
    accounts: Iterable[Any] = (),
    portfolios: Iterable[Any] = (),
) -> LockedMembers:
    """Steps 2–4 for a change of explicit members of one organization: lock ``segments``
    (those the members join) and every segment the given accounts and portfolios are in
    now, in id order; then the portfolios, then the accounts, in id order. Rows of other
    organizations are not locked. A member that moved meanwhile into a segment not yet
    locked makes it start again (at most ``MOVED_ATTEMPTS`` times, then
    ``ConcurrentChange``)."""
    targets = {pk for pk in segments if pk is not None}
    account_ids, portfolio_ids = list(accounts), list(portfolios)
    for _attempt in range(MOVED_ATTEMPTS):
        wanted = (
            targets
            | _segments_now(Portfolio, portfolio_ids, organization_id)
            | _segments_now(Account, account_ids, organization_id)
        )
        try:
            with transaction.atomic():
                locked = LockedMembers(
                    segments=lock_segments(wanted, organization_id=organization_id),
                    portfolios=_lock_rows(Portfolio, portfolio_ids, organization_id),
                    accounts=_lock_rows(Account, account_ids, organization_id),
                )
                now_in = {*locked.portfolios.values(), *locked.accounts.values()} - {None}
                if now_in - wanted:
                    raise _MovedMeanwhile
        except _MovedMeanwhile:
            continue
        return locked
    raise errors.ConcurrentChange(
        "The members kept moving between segments while this change waited; nothing was "
        "changed. Retry the request."
    )
