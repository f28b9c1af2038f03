"""Member counters of segments (``Segment.account_count`` / ``portfolio_count``): the live
accounts and portfolios tagged with each segment, kept exact by the database itself.

Triggers on the accounts and portfolios tables maintain them, so every write path counts —
the services, the admin, bulk ``UPDATE``s, ``COPY`` loads and raw SQL alike:

- PostgreSQL: one statement-level ``AFTER INSERT / UPDATE / DELETE`` trigger per table and
  event, reading the statement's transition tables. A row counts while it is live
  (``deleted_at IS NULL``) and has a segment: a soft delete or restore is an UPDATE of
  ``deleted_at``, a move an UPDATE of ``segment_id``. Each statement applies one
  ``UPDATE ... SET account_count = account_count + delta`` per segment whose count
  changed (none for an update that moves nothing), in segment id order. A 100k-account
  bulk move costs two counter updates.
- SQLite (the zero-setup development database): equivalent row-level triggers.

Triggers do not fire under ``session_replication_role = replica`` (``generate_load_data``
loads that way and recounts afterwards). ``python manage.py recount_segments`` recomputes
every counter from the rows and reports the ones that had drifted.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

SEGMENT_TABLE = "segments_segment"
MEMBER_TABLES = {"segments_account": "account_count", "segments_portfolio": "portfolio_count"}
EVENTS = ("insert", "update", "delete")


def _pg_function(table: str, column: str) -> str:
    live_new = "segment_id IS NOT NULL AND deleted_at IS NULL"
    apply = f"UPDATE {SEGMENT_TABLE} SET {column} = {column} + r.delta WHERE id = r.segment_id;"
    return f"""
CREATE OR REPLACE FUNCTION {table}_count_members() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN
            SELECT segment_id, count(*) AS delta FROM new_rows
            WHERE {live_new} GROUP BY segment_id ORDER BY segment_id
        LOOP
            {apply}
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR r IN
            SELECT segment_id, -count(*) AS delta FROM old_rows
            WHERE {live_new} GROUP BY segment_id ORDER BY segment_id
        LOOP
            {apply}
        END LOOP;
    ELSE
        FOR r IN
            SELECT segment_id, sum(delta) AS delta FROM (
                SELECT segment_id, -1 AS delta FROM old_rows WHERE {live_new}
                UNION ALL
                SELECT segment_id, 1 AS delta FROM new_rows WHERE {live_new}
            ) AS changes
            GROUP BY segment_id HAVING sum(delta) <> 0 ORDER BY segment_id
        LOOP
            {apply}
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
"""


def _pg_triggers(table: str) -> list[str]:
    transition = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
    }
    return [
        f"DROP TRIGGER IF EXISTS {table}_count_{event} ON {table}; "
        f"CREATE TRIGGER {table}_count_{event} AFTER {event.upper()} ON {table} "
        f"{transition[event]} FOR EACH STATEMENT EXECUTE FUNCTION {table}_count_members();"
        for event in EVENTS
    ]


def _sqlite_triggers(table: str, column: str) -> list[str]:
    def add(row: str, sign: str) -> str:
        return (
            f"UPDATE {SEGMENT_TABLE} SET {column} = {column} {sign} 1 "
            f"WHERE id = {row}.segment_id AND {row}.deleted_at IS NULL;"
        )

    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_count_insert AFTER INSERT ON {table} "
        f"BEGIN {add('NEW', '+')} END;",
        f"CREATE TRIGGER IF NOT EXISTS {table}_count_update "
        f"AFTER UPDATE OF segment_id, deleted_at ON {table} "
        f"BEGIN {add('OLD', '-')} {add('NEW', '+')} END;",
        f"CREATE TRIGGER IF NOT EXISTS {table}_count_delete AFTER DELETE ON {table} "
        f"BEGIN {add('OLD', '-')} END;",
    ]


def install_sql(vendor: str) -> list[str]:
    """The statements that create (or replace) the counting triggers."""
    statements: list[str] = []
    for table, column in MEMBER_TABLES.items():
        if vendor == "postgresql":
            statements.append(_pg_function(table, column))
            statements.extend(_pg_triggers(table))
        elif vendor == "sqlite":
            statements.extend(_sqlite_triggers(table, column))
        else:
            raise NotImplementedError(f"No member-counter triggers for {vendor}.")
    return statements


def uninstall_sql(vendor: str) -> list[str]:
    statements: list[str] = []
    for table in MEMBER_TABLES:
        for event in EVENTS:
            suffix = f" ON {table}" if vendor == "postgresql" else ""
            statements.append(f"DROP TRIGGER IF EXISTS {table}_count_{event}{suffix}")
        if vendor == "postgresql":
            statements.append(f"DROP FUNCTION IF EXISTS {table}_count_members()")
    return statements


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor):
            cursor.execute(statement)


def _counts_sql(table: str) -> str:
    return (
        f"SELECT segment_id, count(*) AS n FROM {table} "
        "WHERE segment_id IS NOT NULL AND deleted_at IS NULL GROUP BY segment_id"
    )


def recount(cursor, vendor: str) -> int:
    """Recompute every segment's counters from the rows; returns how many segments had
    drifted (and were corrected). On PostgreSQL the member tables are locked in SHARE mode
    meanwhile (reads go on, writes wait), so no concurrent change is lost."""
    accounts = _counts_sql("segments_account")
    portfolios = _counts_sql("segments_portfolio")
    if vendor == "postgresql":
        cursor.execute("LOCK TABLE segments_account, segments_portfolio IN SHARE MODE")
        cursor.execute(
            f"WITH a AS ({accounts}), p AS ({portfolios}), "
            "wanted AS ("
            "  SELECT s.id, COALESCE(a.n, 0) AS accounts, COALESCE(p.n, 0) AS portfolios"
            f"  FROM {SEGMENT_TABLE} s"
            "  LEFT JOIN a ON a.segment_id = s.id LEFT JOIN p ON p.segment_id = s.id), "
            f"fixed AS (UPDATE {SEGMENT_TABLE} s "
            "  SET account_count = w.accounts, portfolio_count = w.portfolios FROM wanted w "
            "  WHERE s.id = w.id "
            "  AND (s.account_count <> w.accounts OR s.portfolio_count <> w.portfolios) "
            "  RETURNING s.id) "
            "SELECT count(*) FROM fixed"
        )
        return cursor.fetchone()[0]
    wanted = (
        "(SELECT count(*) FROM {table} m WHERE m.segment_id = {segment}.id "
        "AND m.deleted_at IS NULL)"
    )
    account_sql = wanted.format(table="segments_account", segment=SEGMENT_TABLE)
    portfolio_sql = wanted.format(table="segments_portfolio", segment=SEGMENT_TABLE)
    cursor.execute(
        f"UPDATE {SEGMENT_TABLE} SET account_count = {account_sql}, "
        f"portfolio_count = {portfolio_sql} "
        f"WHERE account_count <> {account_sql} OR portfolio_count <> {portfolio_sql}"
    )
    return cursor.rowcount
