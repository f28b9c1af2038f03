"""The rule AST: what a checked rule says, independent of CEL's parse tree and of SQL.

Every comparison has its catalogue field on the left and a literal (or a time) on the
right; ``&&`` and ``||`` chains are flat; time arithmetic exists only as a time plus or
minus a duration. A node's ``span`` is its (start, end) offset in the rule's text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from segments.rules.catalogue import Column

Span = tuple[int, int]


@dataclass(frozen=True)
class Node:
    span: Span = field(default=(0, 0), compare=False, repr=False, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        return ()


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Field(Node):
    """A catalogue name (``type``, ``metadata.tier``). A bool field alone is a condition."""

    column: Column

    @property
    def path(self) -> str:
        return self.column.name


@dataclass(frozen=True)
class Literal(Node):
    """A string, number, bool or null. ``kind`` is ``string``, ``number``, ``bool`` or
    ``null``; a number keeps its exact ``decimal`` for SQL. ``true``/``false`` alone are
    conditions."""

    value: str | int | float | bool | None
    kind: str
    decimal: Decimal | None = None


@dataclass(frozen=True)
class ListLit(Node):
    """``[…]`` of literals of one kind (``kind`` None for the empty list)."""

    items: tuple[Literal, ...]
    kind: str | None


@dataclass(frozen=True)
class Now(Node):
    """The instant of evaluation: makes the rule time-dependent."""


@dataclass(frozen=True)
class Timestamp(Node):
    value: dt.datetime


@dataclass(frozen=True)
class Duration(Node):
    value: dt.timedelta


@dataclass(frozen=True)
class TimeShift(Node):
    """``base + duration`` or ``base - duration`` (``sign`` +1 or -1)."""

    base: Now | Timestamp | TimeShift
    sign: int
    duration: Duration

    def children(self) -> tuple[Node, ...]:
        return (self.base, self.duration)


TimeValue = Now | Timestamp | TimeShift


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Compare(Node):
    """``field op value`` with op one of ``== != < <= > >=``."""

    op: str
    left: Field
    right: Literal | TimeValue

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


# The node classes are alike in shape on purpose (fields, then children()); each is one
# kind of node of the rule syntax tree that the checker, SQL compiler and evaluator match
# on by class.
@dataclass(frozen=True)
class In(Node):
    field: Field
    items: ListLit

    def children(self) -> tuple[Node, ...]:
        return (self.field, self.items)


@dataclass(frozen=True)
class Has(Node):
    """``has(metadata.k)``: the key is present (whatever its value, null included)."""

    field: Field

    def children(self) -> tuple[Node, ...]:
        return (self.field,)


@dataclass(frozen=True)
class Call(Node):
    """``field.startsWith("…")``, ``.endsWith`` or ``.contains`` on text."""

    method: str
    field: Field
    arg: Literal

    def children(self) -> tuple[Node, ...]:
        return (self.field, self.arg)


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


CONDITIONS = (Compare, In, Has, Call, And, Or, Not)


def is_condition(node: Node) -> bool:
    """Whether a node is true or false by itself (a bool field and a bool literal are)."""
    if isinstance(node, CONDITIONS):
        return True
    if isinstance(node, Field):
        return node.column.kind == "bool"
    return isinstance(node, Literal) and node.kind == "bool"


def walk(node: Node) -> Iterator[Node]:
    """Every node, parents before children (the order the node limit counts in)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))
