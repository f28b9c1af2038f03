"""The reference evaluation of a rule on one record, by cel-python's own evaluator.

The rule's text is evaluated by celpy — its walk of the parse tree, ``&&``/``||``/``!``
with CEL's error absorption, ``has()``, ``timestamp()``, ``duration()`` and their
arithmetic — over an activation built from one row. The comparison operators and the
text methods follow the language's typing instead of celpy's, because celpy 0.5 departs
from it (a bool is a Python int there, so ``true == 1`` holds and ``true > 700`` is false
rather than an error; an int does not compare with a double); and an error joined by
``&&``/``||`` to another error is an error (celpy 0.5 crashes describing such a pair):

- a number compares with numbers, int and double alike, by value; a string with strings,
  by code point; a bool with bools (equality only); a timestamp with timestamps;
- null equals null and differs from every other value;
- any other pair is an error, and so is a missing metadata key.

A CEL error counts as no match. The parity test holds the SQL of
``segments.rules.compiler`` to this evaluation, row by row. An account without a
portfolio has no portfolio metadata: ``has(portfolio.metadata.k)`` is false, every
comparison of one is an error.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from celpy import Runner, celtypes
from celpy.evaluation import CELEvalError
from django.utils import timezone

from segments.rules.catalogue import TYPED_COLUMNS, Subject
from segments.rules.language import CEL, Rule, parse_rule
from segments.rules.nodes import And, Or

INT64 = (-(2**63), 2**63 - 1)


def evaluate(
    rule: Rule | str,
    row_values: Mapping[str, Any],
    *,
    subject: str = "account",
    now: dt.datetime | None = None,
) -> bool:
    """Whether the rule is true for one record (``row_values``: catalogue names to
    Python values, ``metadata`` a dict, ``portfolio`` ``{"metadata": …}`` or None; see
    ``row_values``). A rule text is checked first (``InvalidRule`` as ``parse_rule``)."""
    rule = rule if isinstance(rule, Rule) else parse_rule(rule, subject)
    return _value(rule.text, activation(row_values, now)) is True


def explain(
    rule: Rule, row_values: Mapping[str, Any], *, now: dt.datetime | None = None
) -> list[tuple[str, bool | None]]:
    """Each top-level clause of the rule (the operands of its outer ``&&`` or ``||``, or
    the whole rule) with its value for the record: True, False, or None for an error."""
    clauses = rule.ast.items if isinstance(rule.ast, (And, Or)) else (rule.ast,)
    values = activation(row_values, now)
    return [
        (rule.text[start:end], _value(rule.text[start:end], values))
        for start, end in (clause.span for clause in clauses)
    ]


def row_values(instance: Any, subject: str = "account") -> dict[str, Any]:
    """The catalogue's values of an account or a portfolio (an account's portfolio is
    read from ``instance.portfolio``: select it with the account)."""
    subject = Subject(subject)
    values = {name: getattr(instance, col.path) for name, col in TYPED_COLUMNS[subject].items()}
    values["metadata"] = instance.metadata
    if subject == Subject.ACCOUNT:
        portfolio = instance.portfolio if instance.portfolio_id else None
        values["portfolio"] = {"metadata": portfolio.metadata} if portfolio else None
    return values


def activation(values: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """celpy's variables for one record."""
    variables = {name: to_cel(value) for name, value in values.items() if name != "portfolio"}
    if "portfolio" in values:
        portfolio_metadata = (values["portfolio"] or {}).get("metadata") or {}
        variables["portfolio"] = to_cel({"metadata": portfolio_metadata})
    variables["now"] = to_cel(now or timezone.now())
    return variables


def to_cel(value: Any) -> Any:
    """A Python (or JSON) value as a CEL value; null stays None, as in celpy."""
    if value is None or isinstance(value, bool):
        return None if value is None else celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value) if INT64[0] <= value <= INT64[1] else value
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, (str, uuid.UUID)):
        return celtypes.StringType(str(value))
    if isinstance(value, dt.datetime):
        return celtypes.TimestampType(value)
    if isinstance(value, (list, tuple)):
        return celtypes.ListType([to_cel(item) for item in value])
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(k): to_cel(v) for k, v in value.items()})
    raise TypeError(f"no CEL value for {type(value).__name__}")


@functools.lru_cache(maxsize=512)
def _program(text: str) -> Runner:
    return CEL.program(CEL.compile(text), functions=TYPED_FUNCTIONS)


def _value(text: str, variables: dict[str, Any]) -> bool | None:
    try:
        result = _program(text).evaluate(variables)
    except CELEvalError:
        return None
    return bool(result) if isinstance(result, celtypes.BoolType) else None


# ---------------------------------------------------------------- the language's typing


def _kind(value: Any) -> str:
    if value is None or isinstance(value, celtypes.NullType):
        return "null"
    if isinstance(value, (bool, celtypes.BoolType)):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "timestamp"
    return type(value).__name__


def _plain(value: Any) -> Any:
    """The value as Python compares it (celpy's own types refuse mixed int and double)."""
    kind = _kind(value)
    if kind == "number":
        return float(value) if isinstance(value, float) else int(value)
    return {"string": str, "bool": bool}.get(kind, lambda same: same)(value)


def _errors_first(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    @functools.wraps(function)
    def typed(left: Any, right: Any) -> Any:
        for side in (left, right):
            if isinstance(side, CELEvalError):
                return side
        return function(left, right)

    return typed


@_errors_first
def equal(left: Any, right: Any) -> celtypes.BoolType:
    kinds = (_kind(left), _kind(right))
    if "null" in kinds:
        return celtypes.BoolType(kinds[0] == kinds[1])
    if kinds[0] != kinds[1]:
        raise TypeError(f"no such overload: {kinds[0]} == {kinds[1]}")
    return celtypes.BoolType(_plain(left) == _plain(right))


@_errors_first
def not_equal(left: Any, right: Any) -> celtypes.BoolType:
    return celtypes.BoolType(not equal(left, right))


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    @_errors_first
    def ordered(left: Any, right: Any) -> celtypes.BoolType:
        kinds = (_kind(left), _kind(right))
        if kinds[0] != kinds[1] or kinds[0] not in ("number", "string", "timestamp"):
            raise TypeError(f"no such overload: {kinds[0]} ordered with {kinds[1]}")
        return celtypes.BoolType(compare(_plain(left), _plain(right)))

    return ordered


@_errors_first
def member_of(item: Any, container: Any) -> Any:
    """``item in [list]``: true if an element equals it; an error if none does and some
    comparison was an error; false otherwise."""
    if not isinstance(container, list):
        raise TypeError("in needs a list")
    failed = None
    for element in container:
        try:
            if equal(item, element):
                return celtypes.BoolType(True)
        except TypeError as error:
            failed = error
    if failed is not None:
        return CELEvalError("no such overload", TypeError, failed.args)
    return celtypes.BoolType(False)


def _text_method(test: Callable[[str, str], bool]) -> Callable[[Any, Any], Any]:
    def method(text: Any, fragment: Any) -> celtypes.BoolType:
        if _kind(text) != "string" or _kind(fragment) != "string":
            raise TypeError("no such overload: a text method on a non-string")
        return celtypes.BoolType(test(str(text), str(fragment)))

    return method


def _error_pair_safe(logical: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """celpy's ``&&``/``||``, except that two errors give the first: celpy 0.5 raises a
    TypeError describing the pair, and describing an error crashes on some parse trees."""

    def combined(left: Any, right: Any) -> Any:
        if isinstance(left, CELEvalError) and isinstance(right, CELEvalError):
            return left
        return logical(left, right)

    return combined


TYPED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_&&_": _error_pair_safe(celtypes.logical_and),
    "_||_": _error_pair_safe(celtypes.logical_or),
    "_==_": equal,
    "_!=_": not_equal,
    "_<_": _ordering(operator.lt),
    "_<=_": _ordering(operator.le),
    "_>_": _ordering(operator.gt),
    "_>=_": _ordering(operator.ge),
    "_in_": member_of,
    "contains": _text_method(lambda text, fragment: fragment in text),
    "startsWith": _text_method(str.startswith),
    "endsWith": _text_method(str.endswith),
}
