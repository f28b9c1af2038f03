"""The segments' history entries, written in SQL after the load: one "created" entry per
segment (and a "deleted" one per deleted segment) and one "benefit created" entry per
benefit, on its segment, by the bench user, at the rows' own times; their ids are UUIDv7 of
those times."""

from __future__ import annotations

from segments.models import Benefit, HistoryAction, Segment, SegmentHistory

SNAPSHOT_SQL = (
    "jsonb_build_object('name', s.name, 'description', s.description, 'status', "
    "jsonb_build_object('code', s.status_code, 'description', s.status_description), "
    "'metadata', s.metadata, 'ledgerId', s.ledger_id)"
)
# ``services.benefits.benefit_snapshot``, in SQL.
BENEFIT_SNAPSHOT_SQL = (
    "jsonb_build_object('benefitId', b.id, 'name', b.name, 'kind', b.kind, 'version', "
    "b.version, 'parameters', b.parameters, 'validFrom', b.valid_from, 'validUntil', "
    "b.valid_until, 'status', jsonb_build_object('code', b.status_code, 'description', "
    "b.status_description), 'priority', b.priority, 'exclusivityGroup', b.exclusivity_group)"
)


def write_history(cursor, actor_id: int, actor_name: str) -> None:
    table = SegmentHistory._meta.db_table
    for action, when, before, after, where in (
        ("created", "s.created_at", "NULL", SNAPSHOT_SQL, ""),
        ("deleted", "s.deleted_at", SNAPSHOT_SQL, "NULL", "WHERE s.deleted_at IS NOT NULL"),
    ):
        history_id = uuid7_sql(when, action, "s.id")
        cursor.execute(
            f"INSERT INTO {table} (id, actor_name, action, before, after, created_at, "
            f"actor_id, organization_id, segment_id) "
            f"SELECT {history_id}::uuid, %s, %s, {before}, {after}, {when}, %s, "
            f"s.organization_id, s.id FROM {Segment._meta.db_table} s {where}",
            [actor_name, action, actor_id],
        )
    cursor.execute(
        f"INSERT INTO {table} (id, actor_name, action, before, after, created_at, "
        f"actor_id, organization_id, segment_id) "
        f"SELECT {uuid7_sql('b.created_at', 'benefit', 'b.id')}::uuid, %s, %s, NULL, "
        f"{BENEFIT_SNAPSHOT_SQL}, b.created_at, %s, b.organization_id, b.segment_id "
        f"FROM {Benefit._meta.db_table} b",
        [actor_name, HistoryAction.BENEFIT_CREATED.value, actor_id],
    )


def uuid7_sql(time_expr: str, salt: str, row_id: str) -> str:
    """SQL for a UUIDv7 stamped with ``time_expr`` (milliseconds) and a tail derived from
    the row's id ``row_id`` (unique per row and ``salt``)."""
    hex_id = (
        f"(lpad(to_hex((extract(epoch FROM {time_expr}) * 1000)::bigint), 12, '0') || '7' "
        f"|| left(md5('{salt}' || {row_id}::text), 3) || '8' "
        f"|| right(md5('{salt}' || {row_id}::text), 15))"
    )
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return "(" + " || '-' || ".join(f"substr({hex_id}, {a}, {b})" for a, b in parts) + ")"
