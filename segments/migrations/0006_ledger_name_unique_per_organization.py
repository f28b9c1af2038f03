"""Issue #11 item 3: a ledger's name is unique, case-insensitively, among the live ledgers of
its organization (Midaz answers 409 ``0002``), enforced by the partial unique index
``ledger_name_unique_per_organization`` on ``(LOWER(name), organization_id) WHERE
deleted_at IS NULL``.

Nothing refused such duplicates before, so a database may already hold some. The migration
looks first (with the ledgers table locked against writes on PostgreSQL, so none can slip in
before the index exists) and, when there are any, stops without changing anything, saying
how many and naming the command that lists them (``python manage.py
list_duplicate_ledgers``): rename or delete the extra ledgers, then migrate again.
"""

import django.db.models.functions.text
from django.core.management.base import CommandError
from django.db import migrations, models

from segments.selectors import duplicate_ledger_names

LIST_COMMAND = "python manage.py list_duplicate_ledgers"


def refuse_duplicate_names(apps, schema_editor) -> None:
    """Stop the migration when live ledgers of one organization share a name (any case)."""
    ledger_model = apps.get_model("segments", "Ledger")
    alias = schema_editor.connection.alias
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"LOCK TABLE {ledger_model._meta.db_table} IN SHARE MODE")
    groups = duplicate_ledger_names(ledger_model._base_manager.using(alias).all())
    if not groups:
        return
    ledgers = sum(len(group) for group in groups)
    organizations = len({group[0].organization_id for group in groups})
    raise CommandError(
        f"Migration segments.0006 stopped, nothing was changed: {len(groups)} "
        f"{'name is' if len(groups) == 1 else 'names are'} shared by {ledgers} live ledgers "
        f"in {organizations} organization{'' if organizations == 1 else 's'} (case-insensitive), "
        "and ledger names must now be unique per organization (Midaz error 0002). "
        f"List them with `{LIST_COMMAND}`, rename or delete the extra ledgers, then run "
        "migrate again."
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0005_segment_scope_statistics"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicate_names, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="ledger",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                models.F("organization"),
                condition=models.Q(("deleted_at__isnull", True)),
                name="ledger_name_unique_per_organization",
                violation_error_code="duplicate_ledger_name",
            ),
        ),
    ]
