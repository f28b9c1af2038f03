"""Trigram indexes for the admin's text search (issue #11 item 10).

The admin searches ``search_fields`` with ``icontains``, which Django compiles on
PostgreSQL to ``UPPER("col"::text) LIKE UPPER('%term%')``: a B-tree cannot serve a
pattern with a leading ``%``, so on a million accounts every search scanned the table. A
GIN index of ``pg_trgm`` trigrams (``gin_trgm_ops``) on the same expression, ``UPPER(col)``,
serves exactly that condition (``EXPLAIN`` shows a bitmap scan of it per searched column,
OR-ed together).

The rule: these indexes exist on PostgreSQL only. Elsewhere (SQLite, ``make run``) the
model state is the same, so ``makemigrations --check`` is clean on both, but no index is
built: ``TrigramIndex`` renders a no-op statement there, and the migration operation
``AddTrigramIndexConcurrently`` does nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import models
from django.db.backends.ddl_references import Statement
from django.db.models.functions import Upper

TRIGRAM_OPCLASS = "gin_trgm_ops"


def _on_postgresql(schema_editor: Any) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class TrigramIndex(models.Index):
    """``CREATE INDEX name ON table USING gin ((UPPER(field)) gin_trgm_ops)`` on
    PostgreSQL (needs the ``pg_trgm`` extension); nothing on other databases."""

    def __init__(self, field_name: str, *, name: str) -> None:
        self.field_name = field_name
        super().__init__(OpClass(Upper(field_name), name=TRIGRAM_OPCLASS), name=name)

    def deconstruct(self) -> tuple[str, tuple, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            (self.field_name,),
            {"name": self.name},
        )

    def create_sql(self, model, schema_editor, using: str = "", **kwargs: Any) -> Statement:
        if not _on_postgresql(schema_editor):
            # Executed as a comment: a rebuilt SQLite table gets no index for it.
            return Statement("-- %(name)s: PostgreSQL only", name=self.name)
        return super().create_sql(model, schema_editor, using=" USING gin", **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs: Any) -> Statement:
        if not _on_postgresql(schema_editor):
            return Statement(
                "DROP INDEX IF EXISTS %(name)s", name=schema_editor.quote_name(self.name)
            )
        return super().remove_sql(model, schema_editor, **kwargs)


class AddTrigramIndexConcurrently(AddIndexConcurrently):
    """``AddIndexConcurrently`` on PostgreSQL (the table stays writable while it builds);
    on other databases only the model state changes."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if _on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if _on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return (
            f"Concurrently create trigram index {self.index.name} on "
            f"{self.index.field_name} of model {self.model_name} (PostgreSQL only)"
        )
