"""Holding, locking and soft-deleting one row, shared by every aggregate's services.

A parent a service creates under is held ``FOR KEY SHARE`` until commit (step 1 of
``segments.locking``), so that it cannot be deleted under the new row; a row a service
changes is re-read under ``FOR UPDATE`` first. Every delete follows one path
(``delete_checked``): lock → ``If-Match`` → live children → soft delete. Rows are never
removed: ``deleted_at`` marks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import connection
from django.utils import timezone

from segments import errors
from segments.models import Entity
from segments.services.validation import check_if_match


def hold_live(model: type[Entity], pk) -> bool:
    """Whether the row is live, holding it (FOR KEY SHARE on PostgreSQL) until commit so
    that a concurrent delete of it waits for this transaction, and sees what it wrote."""
    if connection.vendor != "postgresql":
        return model.objects.filter(pk=pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s AND deleted_at IS NULL "
            "FOR KEY SHARE",
            [pk],
        )
        return cursor.fetchone() is not None


def hold_parent(model: type[Entity], pk) -> None:
    if not hold_live(model, pk):
        raise errors.EntityNotFound(
            f"The {model.entity_type.lower()} was not found or was deleted.",
            entity_type=model.entity_type,
        )


def lock_for_update[E: Entity](obj: E) -> E:
    """Re-read a live row under an exclusive lock; 0007 if it was deleted meanwhile."""
    locked = type(obj).objects.select_for_update().filter(pk=obj.pk).first()
    if locked is None:
        raise errors.EntityNotFound(entity_type=obj.entity_type)
    return locked


def soft_delete(obj: Entity, *, now: dt.datetime | None = None) -> None:
    obj.deleted_at = now or timezone.now()
    obj.updated_at = obj.deleted_at
    type(obj).all_objects.filter(pk=obj.pk).update(
        deleted_at=obj.deleted_at, updated_at=obj.updated_at
    )


def refuse_if_children(obj: Entity, children: Mapping[str, int]) -> None:
    live = {kind: count for kind, count in children.items() if count}
    if live:
        described = ", ".join(f"{count} {kind}" for kind, count in live.items())
        raise errors.HasLiveChildren(
            f"This {obj.entity_type.lower()} still holds {described}; delete them first.",
            entity_type=obj.entity_type,
            values=live,
        )


def delete_checked[E: Entity](obj: E, if_match: str | None, children: Mapping[str, str]) -> E:
    """The one path of a delete: lock the live row (0007 if it went meanwhile), check
    ``If-Match`` (412), refuse while the locked row has any live child (9002, counts in the
    message) — ``children`` names, by kind, the relations of the row that hold them — then
    soft delete. Returns the locked row, now deleted."""
    obj = lock_for_update(obj)
    check_if_match(obj, if_match)
    counts = {kind: getattr(obj, relation).live().count() for kind, relation in children.items()}
    refuse_if_children(obj, counts)
    soft_delete(obj)
    return obj
