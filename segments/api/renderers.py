"""JSON rendering with orjson (issue #7): the same JSON as DRF's ``JSONRenderer`` for the
bodies the API builds (plain dicts, lists, text, numbers, booleans, null), ~10× faster.

Anything orjson would render differently or cannot render — a datetime, a decimal, a lazy
translation, an integer beyond 64 bits, an indented rendering asked by the client — goes
through DRF's renderer unchanged."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer


def _refuse(value: Any) -> Any:
    raise TypeError(f"left to DRF: {type(value).__name__}")


class FastJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is None:
            try:
                return (
                    orjson.dumps(data, default=_refuse, option=orjson.OPT_PASSTHROUGH_DATETIME)
                    .replace(b"\xe2\x80\xa8", b"\\u2028")
                    .replace(b"\xe2\x80\xa9", b"\\u2029")
                )
            except (TypeError, ValueError):
                pass
        return super().render(data, accepted_media_type, renderer_context)
