"""The segments' history entries, written in SQL after the load: one "created" entry per
segment (and a "deleted" one per deleted segment), by the bench user, at the segment's own
times; their ids are UUIDv7 of those times."""

from __future__ import annotations

from segments.models import Segment, SegmentHistory

SNAPSHOT_SQL = (
    "jsonb_build_object('name', s.name, 'description', s.description, 'status', "
    "jsonb_build_object('code', s.status_code, 'description', s.status_description), "
    "'metadata', s.metadata, 'ledgerId', s.ledger_id)"
)


def write_history(cursor, actor_id: int, actor_name: str) -> None:
    table = SegmentHistory._meta.db_table
    for action, when, before, after, where in (
        ("created", "s.created_at", "NULL", SNAPSHOT_SQL, ""),
        ("deleted", "s.deleted_at", SNAPSHOT_SQL, "NULL", "WHERE s.deleted_at IS NOT NULL"),
    ):
        history_id = _uuid7_sql(when, salt=action)
        cursor.execute(
            f"INSERT INTO {table} (id, actor_name, action, before, after, created_at, "
            f"actor_id, organization_id, segment_id) "
            f"SELECT {history_id}::uuid, %s, %s, {before}, {after}, {when}, %s, "
            f"s.organization_id, s.id FROM {Segment._meta.db_table} s {where}",
            [actor_name, action, actor_id],
        )


def _uuid7_sql(time_expr: str, salt: str) -> str:
    """SQL for a UUIDv7 stamped with ``time_expr`` (milliseconds) and a tail derived from
    the segment id (unique per segment and ``salt``)."""
    hex_id = (
        f"(lpad(to_hex((extract(epoch FROM {time_expr}) * 1000)::bigint), 12, '0') || '7' "
        f"|| left(md5('{salt}' || s.id::text), 3) || '8' "
        f"|| right(md5('{salt}' || s.id::text), 15))"
    )
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return "(" + " || '-' || ".join(f"substr({hex_id}, {a}, {b})" for a, b in parts) + ")"
