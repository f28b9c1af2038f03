"""Issue #7: count the accounts of a ledger in one segment without reading the table.

``GET .../ledgers/{ledger}/accounts?segment_id=S`` filters on ``ledger_id`` and
``segment_id``; no index covered both, so at 1M accounts its COUNT (the list's total) ran
as a parallel sequential scan of the accounts table. This partial index makes that count
an index-only scan.

The index is created with SQL (valid on PostgreSQL and SQLite) and kept out of the model
state, because ``Account.Meta`` belongs to the foundation: when ``Account.Meta.indexes``
gets ``Index(fields=["segment", "ledger"], name="account_live_segment_ledger",
condition=Q(deleted_at__isnull=True))``, turn this into ``SeparateDatabaseAndState``.
"""

from django.db import migrations

INDEX = "account_live_segment_ledger"


class Migration(migrations.Migration):

    dependencies = [
        ("segments", "0002_idempotency"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON segments_account "
                "(segment_id, ledger_id) WHERE deleted_at IS NULL"
            ),
            reverse_sql=f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
