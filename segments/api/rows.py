"""List pages without per-item serializers (issue #7).

A list page of 100 items through DRF serializers costs ~20 fields × 100 items of field
machinery plus one model instance per row (and per joined row); that, not SQL, made the
list endpoints 4–6× slower than the same SQL rendered bare. Here a page is read with
``values()`` (only the columns the body shows, no instances, no joined rows) and each row
is turned into its JSON object by a plain function that yields exactly what the output
serializer of ``segments.api.serializers`` yields for the same entity — same keys, same
order, same values (UUIDs as text, datetimes as DRF's ISO 8601 with ``Z``, unset names of
accounts as ``""``, unset ``entityId`` of portfolios left out). ``tests/api/test_rows``
checks that equivalence; the serializers stay the reference (and the OpenAPI schema).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.utils import timezone

Row = dict[str, Any]

ENTITY_COLUMNS = (
    "id",
    "status_code",
    "status_description",
    "metadata",
    "created_at",
    "updated_at",
    "deleted_at",
)


def _datetime_formatter() -> Callable[[dt.datetime | None], str | None]:
    """DRF's ``DateTimeField`` output (ISO 8601, in the current time zone, ``Z`` for UTC)."""
    zone = timezone.get_current_timezone()

    def iso(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        if timezone.is_aware(value):
            value = value.astimezone(zone)
        else:
            value = timezone.make_aware(value, zone)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _entity(row: Row, iso: Callable) -> Row:
    return {
        "id": str(row["id"]),
        "status": {
            "code": _text(row["status_code"]),
            "description": _text(row["status_description"]),
        },
        "metadata": dict(row["metadata"] or {}),
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "deletedAt": iso(row["deleted_at"]),
    }


def _blank_text(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


# (JSON name, column, conversion) of one field of a body, in the body's order.
RowField = tuple[str, str, Callable[[Any], Any]]


class RowFormat:
    """The columns to read and how one row becomes its JSON object: the common fields of
    every entity, then ``fields`` in order (those in ``omit_when_null`` left out when
    null), then the ``fixed`` values."""

    def __init__(
        self,
        fields: Sequence[RowField],
        *,
        omit_when_null: frozenset[str] = frozenset(),
        fixed: Mapping[str, Any] | None = None,
    ) -> None:
        self.fields = tuple(fields)
        self.omit_when_null = omit_when_null
        self.fixed = dict(fixed or {})
        self.columns = (*ENTITY_COLUMNS, *(column for _, column, _ in self.fields))

    def item(self, row: Row, iso: Callable) -> Row:
        data = _entity(row, iso)
        for name, column, convert in self.fields:
            value = row[column]
            if value is None and name in self.omit_when_null:
                continue
            data[name] = convert(value)
        data.update(self.fixed)
        return data

    def items(self, rows: Iterable[Row]) -> list[Row]:
        iso = _datetime_formatter()
        return [self.item(row, iso) for row in rows]


IN_LEDGER: list[RowField] = [
    ("organizationId", "organization_id", _text),
    ("ledgerId", "ledger_id", _text),
]
SEGMENT_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", _text),
        ("description", "description", _text),
        ("accountCount", "account_count", int),
        ("portfolioCount", "portfolio_count", int),
    ]
)
PORTFOLIO_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", _text),
        ("entityId", "entity_id", _text),
        ("segmentId", "segment_id", _text),
        ("segmentAssignedBy", "segment_assigned_by", _text),
    ],
    omit_when_null=frozenset({"entityId"}),
)
ACCOUNT_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", _blank_text),
        ("type", "type", _text),
        ("assetCode", "asset_code", _text),
        ("alias", "alias", _text),
        ("entityId", "entity_id", _text),
        ("parentAccountId", "parent_account_id", _text),
        ("portfolioId", "portfolio_id", _text),
        ("segmentId", "segment_id", _text),
        ("segmentAssignedBy", "segment_assigned_by", _text),
        ("blocked", "blocked", _flag),
    ],
    fixed={"holderId": None, "holderCheckSkipped": False},
)
