"""``Idempotency-Key`` on POST: the same key with the same request within 24 hours gets
the first answer again and creates nothing new; the same key with a different request is
refused (9007).

The record is inserted in the same transaction as the change it guards. A second request
with the key waits on the unique index until the first commits, then replays its answer;
if the first fails, nothing was kept and the second runs as if it were the first. Only
successful answers (2xx) are kept: a refused request changed nothing, so retrying it is
already safe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from segments import errors
from segments.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_FOR = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255
REPLAYED_RESPONSE_HEADERS = ("Location", "ETag", "Content-Type")


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: Any
    headers: dict[str, str]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests "the same": method, path and the parsed body."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_KEY_PATTERN = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")


def _validated_key(key: str) -> str:
    """A key is 1 to 255 printable ASCII characters (spaces around it ignored): no NUL or
    other control character, nothing a header cannot carry as sent (0047 otherwise)."""
    key = key.strip()
    if not _KEY_PATTERN.fullmatch(key):
        raise errors.InvalidField(
            f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            fields={IDEMPOTENCY_HEADER: f"1 to {MAX_KEY_LENGTH} printable ASCII characters"},
        )
    return key


def run_once(
    user,
    key: str,
    fingerprint: str,
    handle: Callable[[], StoredAnswer],
) -> tuple[StoredAnswer, bool]:
    """Run ``handle`` at most once per (user, key) within 24 h. Returns the answer and
    whether it is a replay."""
    key = _validated_key(key)
    with transaction.atomic():
        IdempotencyRecord.objects.filter(
            user_id=user.pk, key=key, created_at__lt=timezone.now() - KEPT_FOR
        ).delete()
        record = _claim(user, key, fingerprint)
        if record is None:
            return _replay(user, key, fingerprint), True
        answer = handle()
        if 200 <= answer.status_code < 300:
            record.status_code = answer.status_code
            record.response_body = answer.body
            record.response_headers = answer.headers
            record.save(update_fields=["status_code", "response_body", "response_headers"])
        else:
            transaction.set_rollback(True)
        return answer, False


def _claim(user, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The new record of the key, or None when another request holds it (this waits on the
    unique index until that request's transaction ends)."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user_id=user.pk, key=key, request_fingerprint=fingerprint
            )
    except IntegrityError:
        return None


def _replay(user, key: str, fingerprint: str) -> StoredAnswer:
    """The kept answer of the key's first request; 9007 when this request is another."""
    existing = IdempotencyRecord.objects.get(user_id=user.pk, key=key)
    if existing.request_fingerprint != fingerprint:
        raise errors.IdempotencyConflict(
            f"{IDEMPOTENCY_HEADER} '{key}' was already used with a different request."
        )
    return StoredAnswer(existing.status_code, existing.response_body, existing.response_headers)
