"""Reads of one object named by a path, tenancy applied (``tenancy.get_visible``'s rule:
a row the user may not see is 0007, as if it did not exist). ``segments.selectors`` hands
them out with the lists.

Every request of the API and of the console makes one or two of these reads, so each is a
prepared query (``segments.prepared``): its SQL is compiled once per process."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, QuerySet, UUIDField

from segments import errors
from segments.models import Account, Ledger, Organization, Portfolio, Segment
from segments.tenancy import get_visible_prepared, prepare_visible
from segments.validators import has_invalid_characters

_ORGANIZATION = prepare_visible(
    lambda organization_id: Organization.objects.filter(pk=organization_id),
    organization_id=UUIDField(),
)


def get_organization(user, organization_id: Any) -> Organization:
    """A live organization the user is a member of, or 0007."""
    return get_visible_prepared(_ORGANIZATION, user, organization_id=organization_id)


_LEDGER = prepare_visible(
    lambda organization_id, ledger_id: Ledger.objects.select_related("organization").filter(
        organization__deleted_at__isnull=True, pk=ledger_id, organization_id=organization_id
    ),
    organization_id=UUIDField(),
    ledger_id=UUIDField(),
)


def get_ledger(user, organization_id: Any, ledger_id: Any) -> Ledger:
    """A live ledger of a live organization the user belongs to; the ledger must belong to
    the organization in the path (0007 otherwise)."""
    return get_visible_prepared(_LEDGER, user, organization_id=organization_id, ledger_id=ledger_id)


def _segments(organization_id: Any, segment_id: Any) -> QuerySet[Segment]:
    return Segment.objects.select_related("organization", "ledger", "rule").filter(
        organization__deleted_at__isnull=True, pk=segment_id, organization_id=organization_id
    )


_LEDGER_SEGMENT = prepare_visible(
    lambda organization_id, ledger_id, segment_id: _segments(organization_id, segment_id).filter(
        ledger_id=ledger_id, ledger__deleted_at__isnull=True
    ),
    organization_id=UUIDField(),
    ledger_id=UUIDField(),
    segment_id=UUIDField(),
)
_ORGANIZATION_SEGMENT = prepare_visible(
    lambda organization_id, segment_id: _segments(organization_id, segment_id).filter(
        ledger__isnull=True
    ),
    organization_id=UUIDField(),
    segment_id=UUIDField(),
)


def get_segment(user, organization_id: Any, ledger_id: Any | None, segment_id: Any) -> Segment:
    """A live segment in the path's scope: of that ledger, or of the organization itself
    when ``ledger_id`` is None; its rule (``segment.rule``, a dynamic segment's) read in
    the same query."""
    if ledger_id is None:
        return get_visible_prepared(
            _ORGANIZATION_SEGMENT, user, organization_id=organization_id, segment_id=segment_id
        )
    return get_visible_prepared(
        _LEDGER_SEGMENT,
        user,
        organization_id=organization_id,
        ledger_id=ledger_id,
        segment_id=segment_id,
    )


_PORTFOLIO = prepare_visible(
    lambda organization_id, ledger_id, portfolio_id: Portfolio.objects.select_related(
        "ledger", "segment"
    ).filter(
        ledger__deleted_at__isnull=True,
        organization__deleted_at__isnull=True,
        pk=portfolio_id,
        ledger_id=ledger_id,
        organization_id=organization_id,
    ),
    organization_id=UUIDField(),
    ledger_id=UUIDField(),
    portfolio_id=UUIDField(),
)


def get_portfolio(user, organization_id: Any, ledger_id: Any, portfolio_id: Any) -> Portfolio:
    return get_visible_prepared(
        _PORTFOLIO,
        user,
        organization_id=organization_id,
        ledger_id=ledger_id,
        portfolio_id=portfolio_id,
    )


def _accounts(organization_id: Any, ledger_id: Any) -> QuerySet[Account]:
    return Account.objects.select_related(
        "ledger", "segment", "portfolio", "portfolio__segment"
    ).filter(
        ledger__deleted_at__isnull=True,
        organization__deleted_at__isnull=True,
        ledger_id=ledger_id,
        organization_id=organization_id,
    )


_ACCOUNT_BY = {
    key: prepare_visible(
        lambda organization_id, ledger_id, value, key=key: _accounts(
            organization_id, ledger_id
        ).filter(**{key: value}),
        organization_id=UUIDField(),
        ledger_id=UUIDField(),
        value=field,
    )
    for key, field in (("pk", UUIDField()), ("alias", CharField()))
}


def get_account(user, organization_id: Any, ledger_id: Any, **lookup: Any) -> Account:
    """An account of the path's ledger, by id (``pk=``) or alias (``alias=``). An alias
    that no account can have (a NUL or another control character) finds nothing (0007)
    without asking the database, which refuses a NUL in a query."""
    ((key, value),) = lookup.items()
    if key == "alias" and isinstance(value, str) and has_invalid_characters(value):
        raise errors.EntityNotFound(
            "No account was found for the given alias.", entity_type=Account.entity_type
        )
    return get_visible_prepared(
        _ACCOUNT_BY[key], user, organization_id=organization_id, ledger_id=ledger_id, value=value
    )
