"""Request bodies: JSON that every reader would read the same way, or 400 ``0094``.

Python's ``json`` (behind DRF's ``JSONParser``) accepts more than a financial API should
store. ``StrictJSONParser`` reads with the same standard library and refuses, naming
where in the body (``metadata.tier``, ``accountIds[2]``):

- a key given twice in one object, at any depth (two parsers would disagree on which
  value counts: issue #10 item 8);
- ``NaN``, ``Infinity``, ``-Infinity`` (not JSON) and numbers that overflow a double
  (``1e400``) or that Python cannot read (integers past its digit limit): jsonb cannot
  store them and other clients cannot read them back;
- an unpaired surrogate (``"\\ud800"``) in a string or a key: not UTF-8, so not storable;
- nesting deeper than ``MAX_DEPTH`` levels (no body of this API needs more than three;
  tens of thousands would exhaust the parser's recursion);
- a body that is not valid JSON in its declared charset.

What the fields mean and which values are allowed is decided later (``parse_body``, the
services); this only makes sure that what they see is plain JSON.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from typing import IO, Any

from django.utils.http import parse_header_parameters
from rest_framework.parsers import JSONParser

from segments import errors

MAX_DEPTH = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _NotJSONNumber:
    """Stands in for ``NaN``/``Infinity``/``-Infinity`` or an unreadable integer until the
    walk over the parsed body knows where it was."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason


class _ObjectWithDuplicate(dict):
    """An object of the body that named ``duplicate`` twice."""

    duplicate: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    duplicate = None
    for key, value in pairs:
        if key in obj and duplicate is None:
            duplicate = key
        obj[key] = value
    if duplicate is None:
        return obj
    marked = _ObjectWithDuplicate(obj)
    marked.duplicate = duplicate
    return marked


def _constant(text: str) -> _NotJSONNumber:
    return _NotJSONNumber(text, f"{text} is not a JSON number")


def _integer(text: str) -> int | _NotJSONNumber:
    limit = sys.get_int_max_str_digits()
    if limit and len(text.lstrip("-")) > limit:
        return _NotJSONNumber(text[:20], f"a number of more than {limit} digits")
    return int(text)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _first_problem(body: Any) -> tuple[str, str] | None:
    """Where the parsed body breaks a rule of the module doc, and what, or None. Walks
    without recursion, so any depth that ``json`` could build is safe to inspect."""
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        where = path or "body"
        if isinstance(node, dict | list) and depth > MAX_DEPTH:
            return where, f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(node, dict):
            if isinstance(node, _ObjectWithDuplicate):
                return _path(path, node.duplicate), "duplicate key"
            for key, value in node.items():
                if _SURROGATE.search(key):
                    return where, "a key holds an unpaired surrogate (\\ud800-\\udfff)"
                stack.append((value, _path(path, key), depth + 1))
        elif isinstance(node, list):
            stack.extend((item, _path(path, index), depth + 1) for index, item in enumerate(node))
        elif isinstance(node, _NotJSONNumber):
            return where, node.reason
        elif isinstance(node, float) and not math.isfinite(node):
            return where, "a number too large for a double (finite numbers only)"
        elif isinstance(node, str) and _SURROGATE.search(node):
            return where, "an unpaired surrogate (\\ud800-\\udfff) is not a character"
    return None


def load_strict_json(text: str) -> Any:
    """The JSON value of ``text``, or ``InvalidJSON`` (0094) naming where it breaks a rule
    of the module doc."""
    try:
        body = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_int=_integer
        )
    except RecursionError:
        raise errors.InvalidJSON(
            f"The request body is nested more than {MAX_DEPTH} levels deep.",
            fields={"body": f"nested more than {MAX_DEPTH} levels deep"},
        ) from None
    except ValueError as exc:
        raise errors.InvalidJSON(f"The request body is not valid JSON: {exc}.") from None
    problem = _first_problem(body)
    if problem is not None:
        location, message = problem
        raise errors.InvalidJSON(
            f"The request body is not acceptable JSON: {location}: {message}.",
            fields={location: message},
        )
    return body


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the refusals of ``load_strict_json`` (settings'
    ``DEFAULT_PARSER_CLASSES``)."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        _, params = parse_header_parameters(media_type or "")
        charset = params.get("charset") or "utf-8"
        try:
            codecs.lookup(charset)
            text = stream.read().decode(charset)
        except LookupError:
            raise errors.InvalidJSON(f"Unknown charset '{charset[:40]}'.") from None
        except UnicodeDecodeError as exc:
            raise errors.InvalidJSON(f"The request body is not valid {charset}: {exc}.") from None
        return load_strict_json(text)
