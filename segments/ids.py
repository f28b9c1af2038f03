"""Ids as a client sends them: the one reading of a UUID from any value. A service refuses
what is not a UUID (``as_uuid``: 0047, naming the field); a filter, a search box or a
selected row reads it leniently (``uuid_or_none``: not a UUID is simply no id)."""

from __future__ import annotations

import uuid
from typing import Any

from segments import errors


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """``value`` as a UUID (any of the text forms ``uuid.UUID`` reads), or None."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def as_uuid(value: Any, field: str) -> uuid.UUID:
    """``value`` as a UUID; ``InvalidField`` naming ``field`` when it is not one."""
    parsed = uuid_or_none(value)
    if parsed is None:
        raise errors.InvalidField(
            f"{field} must be a UUID.", fields={field: "must be a UUID"}, values={field: value}
        )
    return parsed
