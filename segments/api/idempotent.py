"""``Idempotency-Key`` on the API's POST routes: the HTTP side of ``segments.idempotency``
(which stores the answers). Not the console's double-submit guard
(``segments.console.form_tokens``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from segments.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    REPLAYED_RESPONSE_HEADERS,
    StoredAnswer,
    request_fingerprint,
    run_once,
)


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A POST made with ``Idempotency-Key`` runs at most once per key within 24 h: a retry
    with the same body gets the first answer again (``Idempotent-Replayed: true``), a
    retry with another body is refused (9007)."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        fingerprint = request_fingerprint(request.method, request.path, request.data)

        def run() -> StoredAnswer:
            response = handler(view, request, *args, **kwargs)
            kept = {name: response[name] for name in REPLAYED_RESPONSE_HEADERS if name in response}
            return StoredAnswer(
                response.status_code, json.loads(JSONRenderer().render(response.data)), kept
            )

        answer, replayed = run_once(request.user, key, fingerprint, run)
        response = Response(answer.body, status=answer.status_code, headers=answer.headers)
        if replayed:
            response[REPLAYED_HEADER] = "true"
        return response

    return wrapper
