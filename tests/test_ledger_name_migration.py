"""Issue #11 item 3: migration 0006 (ledger names unique per organization) migrates existing
data safely. With duplicate live ledger names in the database it stops, changes nothing
and says how many and which command lists them; ``list_duplicate_ledgers`` lists exactly
those; once they are renamed or deleted, it applies and the index refuses new duplicates.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from segments import errors, services
from segments.models import Ledger, Organization

BEFORE = ("segments", "0005_segment_scope_statistics")
UNIQUE_NAMES = ("segments", "0006_ledger_name_unique_per_organization")


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def listed(*args: str) -> str:
    out = StringIO()
    call_command("list_duplicate_ledgers", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migration_0006_refuses_duplicates_until_they_are_resolved():
    migrate([BEFORE])
    try:
        acme = Organization.objects.create(legal_name="Acme", legal_document="1")
        other = Organization.objects.create(legal_name="Other", legal_document="2")
        # Before 0006 nothing refused these (the model's constraint is not in the database).
        cards = [Ledger.objects.create(organization=acme, name=n) for n in ("Cards", "CARDS")]
        savings = [Ledger.objects.create(organization=acme, name="Savings") for _ in range(2)]
        unique = [
            Ledger.objects.create(organization=other, name="Cards"),
            Ledger.objects.create(organization=acme, name="cards", deleted_at=timezone.now()),
            Ledger.objects.create(organization=acme, name="Treasury"),
        ]

        with pytest.raises(CommandError) as refused:
            migrate([UNIQUE_NAMES])
        message = str(refused.value)
        assert "2 names are shared by 4 live ledgers in 1 organization" in message
        assert "python manage.py list_duplicate_ledgers" in message
        assert UNIQUE_NAMES not in MigrationRecorder(connection).applied_migrations()

        report = listed()
        for ledger in cards + savings:
            assert str(ledger.pk) in report
        for ledger in unique:
            assert str(ledger.pk) not in report
        assert "2 duplicate name(s), 4 ledgers." in report
        with pytest.raises(CommandError):
            listed("--check")

        Ledger.objects.filter(pk=cards[1].pk).update(name="Cards (old)")
        Ledger.objects.filter(pk=savings[1].pk).update(deleted_at=timezone.now())
        assert listed().strip() == "No duplicate ledger names."
        migrate(latest())
        assert UNIQUE_NAMES in MigrationRecorder(connection).applied_migrations()
        with pytest.raises(errors.LedgerNameConflict):
            services.create_ledger(None, acme, name="SAVINGS")
    finally:
        migrate(latest())
