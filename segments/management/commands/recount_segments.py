"""``manage.py recount_segments``: recompute every segment's member counters
(``account_count``, ``portfolio_count``) from the accounts and portfolios, and (re)install
the triggers that keep them exact (``segments.counters``).

The triggers keep the counters exact on every write path, so this is a repair tool: after
rows were written with triggers disabled (``session_replication_role = replica``), after
a restore of part of the data, or after a SQLite migration that rebuilt a member table
(SQLite drops a table's triggers with it). It reports how many segments had drifted; with
``--check`` it changes nothing and exits non-zero when any had. On PostgreSQL the member
tables are locked in SHARE mode while it runs (reads go on, writes wait): a few seconds
at 1M accounts.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from segments import counters


class Command(BaseCommand):
    help = "Recompute segment member counters from the rows and reinstall their triggers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument(
            "--check",
            action="store_true",
            help="only report drifted counters (exit 1 if any); change nothing",
        )

    def handle(self, *args, **options) -> None:
        connection = connections[options["database"]]
        with transaction.atomic(using=options["database"]):
            counters.install(connection)
            with connection.cursor() as cursor:
                drifted = counters.recount(cursor, connection.vendor)
            if options["check"]:
                transaction.set_rollback(True, using=options["database"])
        if options["check"]:
            if drifted:
                raise CommandError(f"{drifted} segment(s) have drifted member counters.")
            self.stdout.write("Member counters are exact.")
            return
        self.stdout.write(f"Recounted members: {drifted} segment(s) corrected.")
