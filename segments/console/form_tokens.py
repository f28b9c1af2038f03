"""One-time form tokens: a create form carries a fresh token, and the server acts on a
token once. A double click (or a resubmitted page) sends the same token twice; the
second request finds it claimed and creates nothing.

Claiming uses ``cache.add`` (atomic) on the default cache. With several server processes
the cache must be shared (``REDIS_URL``) for the guarantee to hold across them (proven by
``tests/test_shared_cache.py``); the unique segment name is the database's own backstop.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache

from segments.ids import uuid_or_none

TOKEN_TTL_SECONDS = 6 * 60 * 60
PENDING = "pending"


def issue() -> str:
    return uuid.uuid4().hex


def _key(user_id: object, token: str) -> str:
    return f"console:form-token:{user_id}:{token}"


def claim(user_id: object, token: str) -> bool:
    """True for the first request with this token; False when it was already used."""
    if uuid_or_none(token) is None:
        return True  # no usable token: nothing to deduplicate on
    return cache.add(_key(user_id, token), PENDING, TOKEN_TTL_SECONDS)


def complete(user_id: object, token: str, result_id: object) -> None:
    """Remember what the token produced."""
    cache.set(_key(user_id, token), str(result_id), TOKEN_TTL_SECONDS)


def release(user_id: object, token: str) -> None:
    """The request was refused (nothing written): the same form may be sent again."""
    cache.delete(_key(user_id, token))
