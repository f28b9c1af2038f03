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
from collections.abc import Callable, Iterable
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


class RowFormat:
    """The columns to read and the function that turns one row into its JSON object."""

    columns: tuple[str, ...] = ()

    def item(self, row: Row, iso: Callable) -> Row:
        raise NotImplementedError

    def items(self, rows: Iterable[Row]) -> list[Row]:
        iso = _datetime_formatter()
        return [self.item(row, iso) for row in rows]


class SegmentRows(RowFormat):
    columns = (
        *ENTITY_COLUMNS,
        "organization_id",
        "ledger_id",
        "name",
        "description",
        "account_count",
        "portfolio_count",
    )

    def item(self, row: Row, iso: Callable) -> Row:
        data = _entity(row, iso)
        data["organizationId"] = _text(row["organization_id"])
        data["ledgerId"] = _text(row["ledger_id"])
        data["name"] = _text(row["name"])
        data["description"] = _text(row["description"])
        data["accountCount"] = int(row["account_count"])
        data["portfolioCount"] = int(row["portfolio_count"])
        return data


class PortfolioRows(RowFormat):
    columns = (*ENTITY_COLUMNS, "organization_id", "ledger_id", "name", "entity_id", "segment_id")

    def item(self, row: Row, iso: Callable) -> Row:
        data = _entity(row, iso)
        data["organizationId"] = _text(row["organization_id"])
        data["ledgerId"] = _text(row["ledger_id"])
        data["name"] = _text(row["name"])
        if row["entity_id"] is not None:
            data["entityId"] = str(row["entity_id"])
        data["segmentId"] = _text(row["segment_id"])
        return data


class AccountRows(RowFormat):
    columns = (
        *ENTITY_COLUMNS,
        "organization_id",
        "ledger_id",
        "name",
        "type",
        "asset_code",
        "alias",
        "entity_id",
        "parent_account_id",
        "portfolio_id",
        "segment_id",
        "blocked",
    )

    def item(self, row: Row, iso: Callable) -> Row:
        data = _entity(row, iso)
        data["organizationId"] = _text(row["organization_id"])
        data["ledgerId"] = _text(row["ledger_id"])
        data["name"] = "" if row["name"] is None else str(row["name"])
        data["type"] = _text(row["type"])
        data["assetCode"] = _text(row["asset_code"])
        data["alias"] = _text(row["alias"])
        data["entityId"] = _text(row["entity_id"])
        data["parentAccountId"] = _text(row["parent_account_id"])
        data["portfolioId"] = _text(row["portfolio_id"])
        data["segmentId"] = _text(row["segment_id"])
        data["blocked"] = None if row["blocked"] is None else bool(row["blocked"])
        data["holderId"] = None
        data["holderCheckSkipped"] = False
        return data


SEGMENT_ROWS = SegmentRows()
PORTFOLIO_ROWS = PortfolioRows()
ACCOUNT_ROWS = AccountRows()
