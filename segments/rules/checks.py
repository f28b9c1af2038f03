"""The typing rule of comparisons: what each kind of catalogue field may be compared with.

- text (``name``, ``type``…): strings with every operator, ``startsWith``/``endsWith``/
  ``contains``, ``in`` a list of strings, and ``== null`` / ``!= null``;
- ``blocked``: ``true``/``false`` with ``==`` and ``!=``, ``in``, or alone as a condition;
- ``portfolioId``: a UUID in its canonical text (lower case, hyphens) or null, with
  ``==``, ``!=`` and ``in``;
- ``createdAt``: a time (``timestamp("…")``, ``now``, either plus or minus a
  ``duration("…")``) with every operator;
- metadata values are typed by the comparison: a string or a number with every operator,
  ``true``/``false`` and ``null`` with ``==`` and ``!=``; ``in`` a list of strings,
  numbers or bools; ``has()``; the text methods.

A field always ends up on the left (``700 < metadata.score`` reads ``metadata.score >
700``). Anything else is refused here, with the span it concerns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NoReturn

from segments.rules.catalogue import Kind
from segments.rules.nodes import (
    Call,
    Compare,
    Duration,
    Field,
    Has,
    In,
    ListLit,
    Literal,
    Node,
    Now,
    Span,
    TimeShift,
    Timestamp,
)

Refuse = Callable[[Span, str], NoReturn]

EQUALITY = ("==", "!=")
ORDERING = ("<", "<=", ">", ">=")
FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
TEXT_METHODS = ("startsWith", "endsWith", "contains")
TIMES = (Now, Timestamp, TimeShift)

# The literal kinds each field kind accepts, and with which operators.
ACCEPTED: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.TEXT: {"string": EQUALITY + ORDERING, "null": EQUALITY},
    Kind.BOOL: {"bool": EQUALITY},
    Kind.UUID: {"string": EQUALITY, "null": EQUALITY},
    Kind.JSON: {
        "string": EQUALITY + ORDERING,
        "number": EQUALITY + ORDERING,
        "bool": EQUALITY,
        "null": EQUALITY,
    },
}
LIST_KINDS: dict[Kind, tuple[str, ...]] = {
    Kind.TEXT: ("string",),
    Kind.BOOL: ("bool",),
    Kind.UUID: ("string",),
    Kind.JSON: ("string", "number", "bool"),
}
WHAT_IT_TAKES = {
    Kind.TEXT: "text: compare it with a string",
    Kind.BOOL: "true or false: compare it with true or false",
    Kind.UUID: "an id: compare it with a UUID string or null",
    Kind.TIMESTAMP: 'a timestamp: compare it with timestamp("…") or now',
    Kind.JSON: "a metadata value: compare it with a string, a number, true, false or null",
}


def comparison(op: str, left: Node, right: Node, span: Span, refuse: Refuse) -> Compare:
    """``left op right`` with one side a catalogue field and the other a value it takes."""
    if not isinstance(left, Field) and isinstance(right, Field):
        left, right, op = right, left, FLIPPED[op]
    if not isinstance(left, Field):
        refuse(left.span, "A comparison needs a catalogue field on one side")
    if isinstance(right, Field):
        refuse(right.span, "A field compares with a literal, not with another field")
    kind = left.column.kind
    if kind == Kind.TIMESTAMP:
        if not isinstance(right, TIMES):
            refuse(right.span, f"{left.path} is {WHAT_IT_TAKES[kind]}")
        return Compare(op, left, right, span=span)
    if not isinstance(right, Literal) or right.kind not in ACCEPTED[kind]:
        refuse(right.span, f"{left.path} is {WHAT_IT_TAKES[kind]}")
    if op not in ACCEPTED[kind][right.kind]:
        refuse(span, f"{op} does not compare {left.path} with {right.kind}: use == or !=")
    if kind == Kind.UUID and right.kind == "string":
        _check_uuid(right, refuse)
    return Compare(op, left, right, span=span)


def membership(left: Node, right: Node, span: Span, refuse: Refuse) -> In:
    """``field in [literals]``: the list's literals are of a kind the field takes."""
    if not isinstance(left, Field):
        refuse(left.span, "in needs a catalogue field on its left")
    if not isinstance(right, ListLit):
        refuse(right.span, 'in needs a list of literals on its right: ["a", "b"]')
    kind = left.column.kind
    if kind not in LIST_KINDS:
        refuse(span, f"in does not apply to {left.path}: it is {WHAT_IT_TAKES[kind]}")
    if right.kind is not None and right.kind not in LIST_KINDS[kind]:
        refuse(right.span, f"{left.path} is {WHAT_IT_TAKES[kind]}")
    if kind == Kind.UUID:
        for item in right.items:
            _check_uuid(item, refuse)
    return In(left, right, span=span)


def call(method: str, target: Node, args: list[Node], span: Span, refuse: Refuse) -> Call:
    """``field.startsWith("…")`` (or endsWith, contains) on a text field or metadata."""
    if not isinstance(target, Field) or target.column.kind not in (Kind.TEXT, Kind.JSON):
        refuse(target.span, f".{method}() applies to text fields and metadata only")
    if len(args) != 1 or not isinstance(args[0], Literal) or args[0].kind != "string":
        refuse(span, f".{method}() takes one string literal")
    return Call(method, target, args[0], span=span)


def has(args: list[Node], span: Span, refuse: Refuse) -> Has:
    """``has(metadata.k)`` (or ``portfolio.metadata.k``)."""
    if len(args) != 1 or not isinstance(args[0], Field) or args[0].column.kind != Kind.JSON:
        refuse(span, "has() takes one metadata field: has(metadata.<key>)")
    return Has(args[0], span=span)


def time_shift(base: Node, sign: int, duration: Node, span: Span, refuse: Refuse) -> TimeShift:
    """``now - duration("720h")``: the only arithmetic there is."""
    if not isinstance(base, TIMES) or not isinstance(duration, Duration):
        refuse(span, 'Arithmetic is only a time plus or minus a duration: now - duration("720h")')
    return TimeShift(base, sign, duration, span=span)


def _check_uuid(literal: Literal, refuse: Refuse) -> None:
    try:
        canonical = str(uuid.UUID(str(literal.value)))
    except ValueError:
        canonical = None
    if canonical != literal.value:
        refuse(literal.span, "portfolioId is an id: a UUID in lower case with hyphens")
