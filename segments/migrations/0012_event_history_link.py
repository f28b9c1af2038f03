"""Issue #15: the admin's retry of dead events (who retried, when, its permission) and the
``txid`` column linking a segment's history entries to their change's events (the
transaction that wrote both, ``segments.models.transactions``).

``txid`` is added null first and only then given its default: a volatile default on
``ADD COLUMN`` would rewrite both tables and stamp every existing row with this
migration's transaction id, linking every old history entry to every old event of its
segment. Existing rows stay null (not linked); ``SET DEFAULT`` rewrites nothing.
"""

from django.db import migrations, models

import segments.models.transactions


def txid(**options):
    return models.BigIntegerField(blank=True, editable=False, null=True, **options)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0011_rule_refreshes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="event",
            options={"ordering": ["id"], "permissions": [("retry_event", "Can retry dead events")]},
        ),
        migrations.AddField(
            model_name="event",
            name="retried_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="event",
            name="retried_by",
            field=models.CharField(blank=True, max_length=150, null=True),
        ),
        migrations.AddField(model_name="event", name="txid", field=txid()),
        migrations.AddField(model_name="segmenthistory", name="txid", field=txid()),
        migrations.AlterField(
            model_name="event",
            name="txid",
            field=txid(db_default=segments.models.transactions.CurrentTransaction()),
        ),
        migrations.AlterField(
            model_name="segmenthistory",
            name="txid",
            field=txid(db_default=segments.models.transactions.CurrentTransaction()),
        ),
    ]
