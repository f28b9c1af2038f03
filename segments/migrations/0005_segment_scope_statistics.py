"""Issue #7: tell PostgreSQL's planner that a segment's ledger decides its organization.

Segment lists filter on ``organization_id`` and ``ledger_id`` together. Estimated as
independent, the two made the planner expect ~190 of a ledger's ~1,600 segments and read
them all through two bitmap indexes, then sort, instead of reading the first page in
order from ``segment_live_ledger_created`` (6 ms → 3 ms for a page of 100 at 100k
segments). Functional-dependency statistics fix the estimate. PostgreSQL only (the
statements are skipped elsewhere); ANALYZE fills them at once.
"""

from django.db import migrations

STATISTICS = "segment_organization_ledger_stats"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (dependencies) "
        "ON organization_id, ledger_id FROM segments_segment"
    )
    schema_editor.execute("ANALYZE segments_segment")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0004_member_counters_and_account_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
