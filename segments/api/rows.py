"""List pages without per-item serializers (issue #7).

A list page of 100 items through DRF serializers costs ~20 fields × 100 items of field
machinery plus one model instance per row (and per joined row); that, not SQL, made the
list endpoints 4–6× slower than the same SQL rendered bare. Here a page is read with
``values()`` (only the columns the body shows, no instances, no joined rows) and each row
is turned into its JSON object by a plain function that yields exactly what the output
serializer of ``segments.api.serializers`` yields for the same entity — same keys, same
order, same values once rendered (UUIDs and UTC datetimes are left as they were read, for
``FastJSONRenderer``'s orjson to write as DRF writes their text; unset names of accounts
as ``""``, unset ``entityId`` of portfolios left out). ``tests/api/test_rows`` checks that
equivalence; the serializers stay the reference (and the OpenAPI schema).
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


def datetime_formatter() -> Callable[[dt.datetime | None], str | None]:
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


def _formatter_unless_utc() -> Callable[[dt.datetime | None], str | None] | None:
    """None when the current time zone is UTC: the database's aware UTC datetimes are then
    left to the renderer, whose orjson writes them as ``datetime_formatter`` would."""
    if str(timezone.get_current_timezone()) in ("UTC", "Etc/UTC"):
        return None
    return datetime_formatter()


def _entity(row: Row, iso: Callable | None) -> Row:
    """The common fields; ids (UUIDs) are left to the renderer, which writes their text."""
    created, updated, deleted = row["created_at"], row["updated_at"], row["deleted_at"]
    if iso is not None:
        created, updated, deleted = iso(created), iso(updated), iso(deleted)
    return {
        "id": row["id"],
        "status": {"code": row["status_code"], "description": row["status_description"]},
        "metadata": row["metadata"] or {},
        "createdAt": created,
        "updatedAt": updated,
        "deletedAt": deleted,
    }


def _blank_text(value: Any) -> str:
    return "" if value is None else value


# (JSON name, column, conversion or None) of one field of a body, in the body's order;
# None: the column's value as read (text, a number, a UUID the renderer writes as text).
RowField = tuple[str, str, Callable[[Any], Any] | None]


class RowFormat:
    """The columns to read and how one row becomes its JSON object: the common fields of
    every entity, then ``fields`` in order (those in ``omit_when_null`` left out when
    null), then the ``fixed`` values. The object is for ``FastJSONRenderer``: UUIDs and
    datetimes in it are written by orjson as DRF would write their text."""

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

    def item(self, row: Row, iso: Callable | None) -> Row:
        data = _entity(row, iso)
        for name, column, convert in self.fields:
            value = row[column]
            if value is None and name in self.omit_when_null:
                continue
            data[name] = value if convert is None else convert(value)
        data.update(self.fixed)
        return data

    def items(self, rows: Iterable[Row]) -> list[Row]:
        iso = _formatter_unless_utc()
        return [self.item(row, iso) for row in rows]


IN_LEDGER: list[RowField] = [
    ("organizationId", "organization_id", None),
    ("ledgerId", "ledger_id", None),
]
SEGMENT_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", None),
        ("description", "description", None),
        ("accountCount", "account_count", None),
        ("portfolioCount", "portfolio_count", None),
    ]
)
PORTFOLIO_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", None),
        ("entityId", "entity_id", None),
        ("segmentId", "segment_id", None),
        ("segmentAssignedBy", "segment_assigned_by", None),
    ],
    omit_when_null=frozenset({"entityId"}),
)
ACCOUNT_ROWS = RowFormat(
    [
        *IN_LEDGER,
        ("name", "name", _blank_text),
        ("type", "type", None),
        ("assetCode", "asset_code", None),
        ("alias", "alias", None),
        ("entityId", "entity_id", None),
        ("parentAccountId", "parent_account_id", None),
        ("portfolioId", "portfolio_id", None),
        ("segmentId", "segment_id", None),
        ("segmentAssignedBy", "segment_assigned_by", None),
        ("blocked", "blocked", None),
    ],
    fixed={"holderId": None, "holderCheckSkipped": False},
)
