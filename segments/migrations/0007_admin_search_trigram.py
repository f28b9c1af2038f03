"""Issue #11 item 10: the admin's search answers in milliseconds on a million accounts.

``pg_trgm`` GIN indexes on ``UPPER(col)`` (``segments.indexes.TrigramIndex``) for every
column an entity admin searches on the big tables: accounts (alias, name, entity id),
portfolios (name, entity id) and segments (name, description). They serve the condition
Django's ``icontains`` compiles to, ``UPPER(col::text) LIKE UPPER('%term%')``.

PostgreSQL: ``CREATE EXTENSION pg_trgm`` then ``CREATE INDEX CONCURRENTLY`` each index, so
the tables stay readable and writable while they build (45 s for all seven at 1M accounts
on a busy 2-core box); hence ``atomic = False``. An interrupted build leaves an INVALID index behind: drop
it (``DROP INDEX CONCURRENTLY name``) and migrate again. Other databases (SQLite): both
operations do nothing; the model state is the same everywhere.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

import segments.indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("segments", "0006_ledger_name_unique_per_organization"),
    ]

    operations = [
        TrigramExtension(),
        *(
            segments.indexes.AddTrigramIndexConcurrently(
                model_name=model,
                index=segments.indexes.TrigramIndex(field, name=f"{model}_{field}_trgm"),
            )
            for model, field in (
                ("account", "alias"),
                ("account", "name"),
                ("account", "entity_id"),
                ("portfolio", "name"),
                ("portfolio", "entity_id"),
                ("segment", "name"),
                ("segment", "description"),
            )
        ),
    ]
