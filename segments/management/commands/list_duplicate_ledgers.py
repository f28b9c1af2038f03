"""``manage.py list_duplicate_ledgers``: the live ledgers whose names clash,
case-insensitively, within their organization (``selectors.duplicate_ledger_names``).

Migration 0006 makes ledger names unique per organization and refuses to run while such
ledgers exist; this lists them (organization, then each ledger with its id, name and
creation time, oldest first) so that the extra ones can be renamed or deleted first. It
reads only, and works before and after the migration. ``--check`` exits non-zero when any
are found.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from segments.models import Ledger
from segments.selectors import duplicate_ledger_names


class Command(BaseCommand):
    help = "List live ledgers whose names clash (ignoring case) within their organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--check", action="store_true", help="exit 1 when there are duplicates")

    def handle(self, *args: Any, **options: Any) -> None:
        ledgers = Ledger.all_objects.using(options["database"]).select_related("organization")
        groups = duplicate_ledger_names(ledgers)
        if not groups:
            self.stdout.write("No duplicate ledger names.")
            return
        for group in groups:
            organization = group[0].organization
            self.stdout.write(
                f"Organization {organization.pk} ({organization.legal_name}): "
                f"{len(group)} ledgers named “{group[0].name}”"
            )
            for ledger in group:
                self.stdout.write(
                    f"  {ledger.pk}  {ledger.name}  created {ledger.created_at.isoformat()}"
                )
        total = sum(len(group) for group in groups)
        summary = f"{len(groups)} duplicate name(s), {total} ledgers."
        if options["check"]:
            raise CommandError(summary)
        self.stdout.write(summary)
