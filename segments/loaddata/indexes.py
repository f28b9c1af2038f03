"""Secondary indexes of the big tables, dropped for the load and rebuilt after it (one
sorted build is far cheaper than maintaining them row by row). Primary keys and the
indexes behind constraints stay: UUIDv7 keys append at the right edge."""

from __future__ import annotations

from segments.models import Account, Benefit, Portfolio, Segment


def drop_secondary_indexes(cursor) -> list[str]:
    """Drops them; returns the statements that rebuild them."""
    tables = [model._meta.db_table for model in (Account, Portfolio, Segment, Benefit)]
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef
        FROM pg_indexes i
        JOIN pg_class c ON c.relname = i.indexname
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
        ORDER BY i.tablename, i.indexname
        """,
        [tables],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def rebuild_indexes(cursor, statements: list[str]) -> None:
    for statement in statements:
        cursor.execute(statement)
