"""References without a trigger per row: a superuser loads with row triggers off
(``session_replication_role = replica``: foreign-key checks and the member counters'
triggers do not fire) and every reference is then checked once, set-based; any orphan
aborts the load."""

from __future__ import annotations

from django.core.management.base import CommandError

from segments.models import Account, Ledger, Portfolio, Segment, SegmentHistory


def skip_row_triggers(cursor) -> bool:
    """Turns row triggers off for this transaction when the user is a superuser (the only
    one allowed to); False, and the triggers stay, otherwise."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    if not row or not row[0]:
        return False
    cursor.execute("SET LOCAL session_replication_role = replica")
    return True


def restore_row_triggers(cursor) -> None:
    cursor.execute("SET LOCAL session_replication_role = origin")


def _reference_checks() -> list[str]:
    """A query per check, naming what it finds broken: every foreign key of the loaded
    tables points at an existing row (what the skipped triggers would have checked), and no
    row points at a deleted segment."""
    checks = []
    for model in (Ledger, Segment, Portfolio, Account, SegmentHistory):
        for fk in model._meta.concrete_fields:
            if not fk.is_relation:
                continue
            target = fk.related_model._meta
            checks.append(
                f"SELECT '{model._meta.db_table}.{fk.column}' FROM {model._meta.db_table} t "
                f"WHERE t.{fk.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                f"{target.db_table} p WHERE p.{target.pk.column} = t.{fk.column})"
            )
    for model in (Account, Portfolio):
        checks.append(
            f"SELECT '{model._meta.db_table} in deleted segment' FROM "
            f"{model._meta.db_table} t JOIN {Segment._meta.db_table} s "
            "ON s.id = t.segment_id WHERE s.deleted_at IS NOT NULL"
        )
    return checks


def check_references(cursor) -> None:
    for check in _reference_checks():
        cursor.execute(check + " LIMIT 1")
        broken = cursor.fetchone()
        if broken:
            raise CommandError(f"Generated data breaks a reference: {broken[0]}.")
