"""Issue #7: member counters on segments, and fewer indexes on the accounts table.

- ``Segment.account_count`` / ``portfolio_count``: the live direct members, filled from the
  rows here and kept exact from then on by triggers (``segments.counters``: statement-level
  triggers with transition tables on PostgreSQL, row triggers on SQLite).
- The accounts table loses its five single-column foreign-key indexes and the partial
  ``account_live_segment_ledger`` (migration 0003). Every foreign key still leads an index
  that covers every row having it: ``account_segment_ledger (segment, ledger, deleted_at)``,
  ``account_organization_ledger (organization, ledger)``, and partial indexes on
  ``portfolio`` and ``parent_account`` that skip the rows without one (most of them).
  ``account_live_portfolio`` skips accounts without a portfolio too. A moved account now
  writes about 6 index entries instead of 11.
"""

import django.db.models.deletion
from django.db import migrations, models

from segments import counters


def install_counters(apps, schema_editor):
    connection = schema_editor.connection
    counters.install(connection)
    with connection.cursor() as cursor:
        counters.recount(cursor, connection.vendor)


def uninstall_counters(apps, schema_editor):
    counters.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0003_account_live_segment_ledger"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="account",
            name="account_live_portfolio",
        ),
        migrations.AddField(
            model_name="segment",
            name="account_count",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddField(
            model_name="segment",
            name="portfolio_count",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="account",
            name="ledger",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="segments.ledger",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="segments.organization",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="parent_account",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="children",
                to="segments.account",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="portfolio",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="segments.portfolio",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="segment",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="segments.segment",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True), ("portfolio__isnull", False)),
                fields=["portfolio", "created_at", "id"],
                name="account_live_portfolio",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("segment__isnull", False)),
                fields=["segment", "ledger", "deleted_at"],
                name="account_segment_ledger",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                fields=["organization", "ledger"], name="account_organization_ledger"
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("portfolio__isnull", False)),
                fields=["portfolio"],
                name="account_portfolio",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("parent_account__isnull", False)),
                fields=["parent_account"],
                name="account_parent",
            ),
        ),
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS account_live_segment_ledger",
            reverse_sql=(
                "CREATE INDEX IF NOT EXISTS account_live_segment_ledger ON segments_account "
                "(segment_id, ledger_id) WHERE deleted_at IS NULL"
            ),
        ),
        migrations.RunPython(install_counters, uninstall_counters),
    ]
