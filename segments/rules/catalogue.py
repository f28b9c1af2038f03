"""The field catalogue of rules: the only path from a name in a rule to a column.

A rule names a typed column of its subject (``type``, ``createdAt``…) or a key of a
metadata object (``metadata.<key>``, and for accounts ``portfolio.metadata.<key>``, read
through the account's portfolio). Nothing else reaches SQL: a name not listed here is
refused before any query is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a catalogue name holds, hence what it may be compared with."""

    TEXT = "text"
    BOOL = "bool"
    UUID = "uuid"
    TIMESTAMP = "timestamp"
    JSON = "json"  # a metadata value: typed by the comparison, not by the catalogue


class Subject(StrEnum):
    ACCOUNT = "account"
    PORTFOLIO = "portfolio"


@dataclass(frozen=True)
class Column:
    """A catalogue entry: the rule's name, the model path it reads (``portfolio__metadata``
    crosses the account's portfolio), its kind, the JSON key for metadata, and whether
    the column may be NULL."""

    name: str
    path: str
    kind: Kind
    nullable: bool = False
    key: str | None = None

    @property
    def through_portfolio(self) -> bool:
        return self.path.startswith("portfolio__")


def _columns(*columns: Column) -> dict[str, Column]:
    return {column.name: column for column in columns}


TYPED_COLUMNS: dict[Subject, dict[str, Column]] = {
    Subject.ACCOUNT: _columns(
        Column("name", "name", Kind.TEXT, nullable=True),
        Column("alias", "alias", Kind.TEXT, nullable=True),
        Column("type", "type", Kind.TEXT),
        Column("assetCode", "asset_code", Kind.TEXT),
        Column("entityId", "entity_id", Kind.TEXT, nullable=True),
        Column("blocked", "blocked", Kind.BOOL),
        Column("status", "status_code", Kind.TEXT),
        Column("portfolioId", "portfolio_id", Kind.UUID, nullable=True),
        Column("createdAt", "created_at", Kind.TIMESTAMP),
    ),
    Subject.PORTFOLIO: _columns(
        Column("name", "name", Kind.TEXT),
        Column("entityId", "entity_id", Kind.TEXT, nullable=True),
        Column("status", "status_code", Kind.TEXT),
        Column("createdAt", "created_at", Kind.TIMESTAMP),
    ),
}

# Dotted prefixes followed by one metadata key, and the model path of the JSON object.
METADATA_PREFIXES: dict[Subject, dict[str, str]] = {
    Subject.ACCOUNT: {"metadata": "metadata", "portfolio.metadata": "portfolio__metadata"},
    Subject.PORTFOLIO: {"metadata": "metadata"},
}


def lookup(subject: Subject, parts: list[str]) -> Column | None:
    """The catalogue entry a dotted name (split on dots) names, or None."""
    if len(parts) == 1:
        return TYPED_COLUMNS[subject].get(parts[0])
    prefix, key = ".".join(parts[:-1]), parts[-1]
    path = METADATA_PREFIXES[subject].get(prefix)
    if path is None:
        return None
    return Column(f"{prefix}.{key}", path, Kind.JSON, nullable=True, key=key)


def names(subject: Subject) -> list[str]:
    """The catalogue as a reader sees it (for messages and field hints)."""
    return [*TYPED_COLUMNS[subject], *(f"{prefix}.<key>" for prefix in METADATA_PREFIXES[subject])]
