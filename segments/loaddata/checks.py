"""References without a trigger per row: a superuser loads with row triggers off
(``session_replication_role = replica``: foreign-key checks and the member counters'
triggers do not fire) and every reference is then checked once, set-based, and so is the
benefits' ambiguity rule (9012); anything broken aborts the load."""

from __future__ import annotations

from django.core.management.base import CommandError

from segments.models import (
    Account,
    Benefit,
    BenefitVersion,
    Ledger,
    Portfolio,
    Segment,
    SegmentHistory,
    Status,
)


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
    for model in (Ledger, Segment, Benefit, BenefitVersion, Portfolio, Account, SegmentHistory):
        for fk in model._meta.concrete_fields:
            if not fk.is_relation:
                continue
            target = fk.related_model._meta
            checks.append(
                f"SELECT '{model._meta.db_table}.{fk.column}' FROM {model._meta.db_table} t "
                f"WHERE t.{fk.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                f"{target.db_table} p WHERE p.{target.pk.column} = t.{fk.column})"
            )
    for model in (Account, Portfolio, Benefit):
        checks.append(
            f"SELECT '{model._meta.db_table} in deleted segment' FROM "
            f"{model._meta.db_table} t JOIN {Segment._meta.db_table} s "
            "ON s.id = t.segment_id WHERE s.deleted_at IS NOT NULL"
        )
    return [*checks, _ambiguity_check()]


def _ambiguity_check() -> str:
    """Two live ACTIVE benefits of one segment in one exclusivity group, with one priority
    and overlapping windows (what the services refuse with 9012)."""
    table = Benefit._meta.db_table
    return (
        f"SELECT 'ambiguous benefits (9012) in segment ' || a.segment_id FROM {table} a "
        f"JOIN {table} b ON b.segment_id = a.segment_id AND b.id > a.id "
        "AND b.exclusivity_group = a.exclusivity_group AND b.priority = a.priority "
        f"WHERE a.status_code = '{Status.ACTIVE}' AND b.status_code = '{Status.ACTIVE}' "
        "AND a.deleted_at IS NULL AND b.deleted_at IS NULL "
        "AND (a.valid_until IS NULL OR b.valid_from IS NULL OR b.valid_from < a.valid_until) "
        "AND (b.valid_until IS NULL OR a.valid_from IS NULL OR a.valid_from < b.valid_until)"
    )


def check_references(cursor) -> None:
    for check in _reference_checks():
        cursor.execute(check + " LIMIT 1")
        broken = cursor.fetchone()
        if broken:
            raise CommandError(f"Generated data breaks a reference: {broken[0]}.")
