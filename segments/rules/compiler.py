"""Compiles a checked rule into a Django ``Q`` that the database evaluates.

The rule: a row is a member exactly when the rule is *true* for it in CEL. A CEL value is
true, false or an error (a missing metadata key, a type mismatch such as ``metadata.score
> 700`` on ``true`` or ``"900"``, a null where text is needed); ``!`` of an error is an
error, and ``&&``/``||`` absorb errors as SQL's three-valued ``AND``/``OR`` absorb NULL
(``false && error`` is false, ``true || error`` is true: checked in celpy).

So that nothing depends on ``NOT`` over a NULL, every node is compiled for the question
asked of it — "is it true?" or "is it false?" — and ``!`` swaps the question (``&&`` is
false when either side is false, ``||`` when both are). Each leaf answers either
question with a predicate that holds exactly when CEL's value is that answer; an error
answers neither. Predicates are joined only by ``AND`` and ``OR``, so a NULL inside one
counts as no match, on PostgreSQL and on SQLite. No row is read into Python.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from functools import reduce
from typing import Any

from django.db.models import (
    BooleanField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    UUIDField,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.functions import Now as DatabaseNow

from segments.rules.catalogue import Column, Kind
from segments.rules.language import Rule
from segments.rules.nodes import (
    And,
    Call,
    Compare,
    Field,
    Has,
    In,
    Literal,
    Node,
    Not,
    Now,
    Or,
    TimeShift,
    Timestamp,
    TimeValue,
)
from segments.rules.sql import (
    CodePointText,
    Comparison,
    Constant,
    IsNull,
    JsonContains,
    JsonHasKey,
    JsonScalar,
    JsonTypeIs,
    OneOf,
    Param,
    TextMatch,
)

NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def rule_q(rule: Rule, now: dt.datetime | None = None) -> Q:
    """The rows of the rule's subject that the rule matches, as a filter
    (``Account.objects.filter(rule_q(rule))``). ``now`` is the instant ``now`` means;
    the database's clock when not given. Its SQL may be NULL for a row it does not
    match, so its negation is not the rest: see ``outside_rule_q``."""
    return _Compiler(now).answer(rule.ast, True)


def outside_rule_q(rule: Rule, now: dt.datetime | None = None) -> Q:
    """The rows the rule does not match (it is false or an error for them): what
    ``~rule_q(rule)`` or ``exclude(rule_q(rule))`` would miss where the SQL is NULL."""
    matched = ExpressionWrapper(rule_q(rule, now), output_field=BooleanField())
    return ~Q(Coalesce(matched, Value(False), output_field=BooleanField()))


class _Compiler:
    def __init__(self, now: dt.datetime | None) -> None:
        self.now = now

    def answer(self, node: Node, want: bool) -> Q:
        """The rows where ``node`` is ``want`` (true, or false) in CEL."""
        if isinstance(node, (And, Or)):
            parts = [self.answer(item, want) for item in node.items]
            conjunction = isinstance(node, And) == want
            return reduce(operator.and_ if conjunction else operator.or_, parts)
        if isinstance(node, Not):
            return self.answer(node.item, not want)
        if isinstance(node, Literal):
            return Q(Constant(node.value == want))
        if isinstance(node, Field):
            return Q(Comparison(F(node.column.path), "==", Param(want)))
        if isinstance(node, Has):
            column = node.field.column
            return Q(JsonHasKey(column.path, column.key, negated=not want))
        if isinstance(node, Call):
            return Q(TextMatch(_text(node.field.column), node.method, node.arg.value, not want))
        if isinstance(node, In):
            return self.member(node, want)
        assert isinstance(node, Compare)
        return self.compare(node, want)

    def compare(self, node: Compare, want: bool) -> Q:
        column, literal = node.left.column, node.right
        if column.kind == Kind.TIMESTAMP:
            op = node.op if want else NEGATED[node.op]
            return Q(Comparison(F(column.path), op, self.instant(literal)))
        if literal.kind == "null":
            return _null_test(column, is_null=(node.op == "==") == want)
        if node.op in ("==", "!="):
            return _equality(column, literal, equal=(node.op == "==") == want)
        op = node.op if want else NEGATED[node.op]
        value = _value_of(column, literal.kind)
        if literal.kind == "string":
            value = CodePointText(value)
        return Q(Comparison(value, op, _param(column, literal)))

    def member(self, node: In, want: bool) -> Q:
        column, items = node.field.column, node.items.items
        if not items:
            if not want and column.kind == Kind.JSON:
                return Q(JsonHasKey(column.path, column.key))
            return Q(Constant(not want))
        value = _value_of(column, node.items.kind)
        params = [_param(column, item) for item in items]
        if want:
            return Q(OneOf(value, params))
        return _or_null(Q(OneOf(value, params, negated=True)), column)

    def instant(self, node: TimeValue) -> Any:
        """A time as a database value; ``now`` (shifted or not) is the database's clock
        unless the compiler was given an instant."""
        shift = dt.timedelta()
        while isinstance(node, TimeShift):
            shift += node.sign * node.duration.value
            node = node.base
        if isinstance(node, Timestamp):
            return Value(node.value + shift, output_field=DateTimeField())
        assert isinstance(node, Now)
        if self.now is not None:
            return Value(self.now + shift, output_field=DateTimeField())
        if not shift:
            return DatabaseNow()
        moved = DatabaseNow() + Value(shift, output_field=DurationField())
        return ExpressionWrapper(moved, output_field=DateTimeField())


def _value_of(column: Column, kind: str | None) -> Any:
    """What a comparison reads: the column, or the metadata value guarded to ``kind``."""
    if column.kind == Kind.JSON:
        return JsonScalar(column.path, column.key, kind)
    return F(column.path)


def _text(column: Column) -> Any:
    return _value_of(column, "string")


def _param(column: Column, literal: Literal) -> Any:
    if column.kind == Kind.UUID:
        return Value(uuid.UUID(literal.value), output_field=UUIDField())
    return Param(literal.decimal if literal.kind == "number" else literal.value)


def _null_test(column: Column, is_null: bool) -> Q:
    """``== null`` (``is_null``) or ``!= null``. A missing metadata key is neither."""
    if column.kind == Kind.JSON:
        return Q(JsonTypeIs(column.path, column.key, "null", negated=not is_null))
    if not column.nullable:
        return Q(Constant(not is_null))
    return Q(IsNull(column.path, negated=not is_null))


def _equality(column: Column, literal: Literal, equal: bool) -> Q:
    """``== literal`` (``equal``) or ``!= literal``: a value of the literal's type equal
    (or not) to it; null differs from every literal; any other type is an error."""
    if equal and column.kind == Kind.JSON and literal.kind in ("string", "bool"):
        return Q(JsonContains(column.path, column.key, literal.kind, literal.value))
    value = _value_of(column, literal.kind)
    compared = Q(Comparison(value, "==" if equal else "!=", _param(column, literal)))
    return compared if equal else _or_null(compared, column)


def _or_null(compared: Q, column: Column) -> Q:
    """``compared`` or a null value (null differs from every literal)."""
    if column.kind == Kind.JSON or column.nullable:
        return compared | _null_test(column, is_null=True)
    return compared
