"""Issue #14: a rule refresh as a background job (its status, counts and cursor), and
the history action of a refresh that moved members."""

import django.db.models.deletion
import django.utils.timezone
import uuid6
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0010_dynamic_segments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="segmenthistory",
            name="action",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("updated", "Updated"),
                    ("deleted", "Deleted"),
                    ("restored", "Restored"),
                    ("members_assigned", "Members assigned"),
                    ("members_removed", "Members removed"),
                    ("benefit_created", "Benefit created"),
                    ("benefit_updated", "Benefit updated"),
                    ("benefit_deleted", "Benefit deleted"),
                    ("rule_updated", "Rule updated"),
                    ("rule_deleted", "Rule deleted"),
                    ("membership_refreshed", "Membership refreshed"),
                ],
                max_length=30,
            ),
        ),
        migrations.CreateModel(
            name="RuleRefresh",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid6.uuid7, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("subjects", models.JSONField(default=list)),
                (
                    "cause",
                    models.CharField(
                        choices=[
                            ("rule", "Rule changed"),
                            ("requested", "Requested"),
                            ("schedule", "Time-dependent rules"),
                            ("bulk", "Bulk load"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("rule_version", models.PositiveIntegerField(blank=True, null=True)),
                ("scanned", models.PositiveBigIntegerField(default=0)),
                ("added", models.PositiveBigIntegerField(default=0)),
                ("removed", models.PositiveBigIntegerField(default=0)),
                ("cursor", models.JSONField(blank=True, null=True)),
                ("task_id", models.UUIDField(blank=True, null=True)),
                ("error", models.TextField(blank=True)),
                ("actor_name", models.CharField(max_length=150)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ledger",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rule_refreshes",
                        to="segments.ledger",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rule_refreshes",
                        to="segments.organization",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refreshes",
                        to="segments.segment",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status__in", ["queued", "running"])),
                        fields=["status"],
                        name="rule_refresh_unfinished",
                    )
                ],
            },
        ),
    ]
