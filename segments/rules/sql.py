"""The SQL pieces a rule compiles to, for PostgreSQL and SQLite alike.

Each is a Django expression whose SQL the rule compiler cannot get wrong by accident:

- a metadata value is read only through a guard of its JSON type (``jsonb_typeof`` on
  PostgreSQL, ``json_type`` on SQLite) inside a ``CASE`` (which, unlike ``AND``, fixes the
  order of evaluation), so ``metadata.score > 700`` never compares a boolean or the
  string ``"900"`` and never casts a string to a number;
- text is ordered by code point (``COLLATE "C"``, SQLite's ``BINARY``), as CEL orders
  strings;
- ``startsWith``/``endsWith``/``contains`` escape ``%``, ``_`` and ``\\`` in ``LIKE`` on
  PostgreSQL (where a trigram index can serve them) and use ``substr``/``instr`` on
  SQLite (whose ``LIKE`` ignores case);
- keys and literals are always parameters, never part of the SQL text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Expression, F, FloatField, TextField

SQL_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
PG_TYPES = {"number": "number", "string": "string", "bool": "boolean", "null": "null"}
SQLITE_TYPES = {
    "number": "IN ('integer', 'real')",
    "string": "= 'text'",
    "bool": "IN ('true', 'false')",
    "null": "= 'null'",
}


class _Sql(Expression):
    """An expression over source expressions with one SQL text per database."""

    def __init__(self, *sources: Any, output_field: Any = None) -> None:
        super().__init__(output_field=output_field or BooleanField())
        self.sources = [F(s) if isinstance(s, str) else s for s in sources]

    def get_source_expressions(self) -> list[Any]:
        return self.sources

    def set_source_expressions(self, exprs: list[Any]) -> None:
        self.sources = list(exprs)

    def compiled(self, compiler: Any) -> tuple[list[str], list[Any]]:
        sqls, params = [], []
        for source in self.sources:
            sql, source_params = compiler.compile(source)
            sqls.append(sql)
            params.extend(source_params)
        return sqls, params


class Predicate(_Sql):
    conditional = True


def _sqlite_path(key: str) -> str:
    return f'$."{key}"'


class JsonTypeIs(Predicate):
    """The value at ``key`` of a JSON object is of ``kind`` (``negated``: present and not
    of it). A missing key (or a missing object) is neither: NULL."""

    def __init__(self, source: Any, key: str, kind: str, negated: bool = False) -> None:
        super().__init__(source)
        self.key, self.kind, self.negated = key, kind, negated

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        operator = "<>" if self.negated else "="
        return f"(jsonb_typeof({obj} -> %s) {operator} %s)", [
            *params,
            self.key,
            PG_TYPES[self.kind],
        ]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        test = SQLITE_TYPES[self.kind]
        sql = f"(json_type({obj}, %s) {test})"
        return (f"(NOT {sql})" if self.negated else sql), [*params, _sqlite_path(self.key)]


class JsonHasKey(Predicate):
    """``key`` is present in the JSON object (``negated``: absent, or no object at all,
    as for an account without a portfolio)."""

    def __init__(self, source: Any, key: str, negated: bool = False) -> None:
        super().__init__(source)
        self.key, self.negated = key, negated

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        if self.negated:
            return f"(NOT COALESCE({obj} ? %s, false))", [*params, self.key]
        return f"({obj} ? %s)", [*params, self.key]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        test = "IS NULL" if self.negated else "IS NOT NULL"
        return f"(json_type({obj}, %s) {test})", [*params, _sqlite_path(self.key)]


class JsonScalar(_Sql):
    """The value at ``key`` if it is a JSON ``kind`` (number, string or bool), as SQL's
    numeric, text or boolean; NULL otherwise (missing, or of another type)."""

    def __init__(self, source: Any, key: str, kind: str) -> None:
        output = {"number": FloatField(), "string": TextField(), "bool": BooleanField()}[kind]
        super().__init__(source, output_field=output)
        self.key, self.kind = key, kind

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        value = {
            "number": f"({obj} -> %s)::numeric",
            "string": f"({obj} ->> %s)",
            "bool": f"({obj} -> %s)::boolean",
        }[self.kind]
        guard = f"jsonb_typeof({obj} -> %s) = %s"
        sql = f"(CASE WHEN {guard} THEN {value} END)"
        return sql, [*params, self.key, PG_TYPES[self.kind], *params, self.key]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        path = _sqlite_path(self.key)
        if self.kind == "bool":
            value = f"(json_type({obj}, %s) = 'true')"
        else:
            value = f"json_extract({obj}, %s)"
        sql = f"(CASE WHEN json_type({obj}, %s) {SQLITE_TYPES[self.kind]} THEN {value} END)"
        return sql, [*params, path, *params, path]


class JsonContains(Predicate):
    """``{key: value}`` is contained in the JSON object (PostgreSQL's ``@>``, which a GIN
    index serves; a string or a bool only equals the same JSON type). SQLite compares the
    guarded scalar instead."""

    def __init__(self, source: Any, key: str, kind: str, value: str | bool) -> None:
        super().__init__(source)
        self.key, self.kind, self.value = key, kind, value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (obj,), params = self.compiled(compiler)
        return f"({obj} @> %s::jsonb)", [*params, json.dumps({self.key: self.value})]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        scalar = JsonScalar(self.sources[0], self.key, self.kind)
        return compiler.compile(Comparison(scalar, "==", Param(self.value)))


class CodePointText(_Sql):
    """Text ordered by code point, as CEL orders strings."""

    def __init__(self, source: Any) -> None:
        super().__init__(source, output_field=TextField())

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (text,), params = self.compiled(compiler)
        return f'({text} COLLATE "C")', params

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (text,), params = self.compiled(compiler)
        return f"({text} COLLATE BINARY)", params


class Param(_Sql):
    """A literal as a query parameter: a number as ``numeric`` on PostgreSQL (exact, as
    written) and as a float or an integer on SQLite (whose JSON numbers are those)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if isinstance(self.value, Decimal):
            return "%s::numeric", [self.value]
        return "%s", [self.value]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        value = self.value
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        return "%s", [value]


class Comparison(Predicate):
    """``left op right``, op one of ``== != < <= > >=``."""

    def __init__(self, left: Any, op: str, right: Any) -> None:
        super().__init__(left, right)
        self.op = SQL_OPERATORS[op]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (left, right), params = self.compiled(compiler)
        return f"({left} {self.op} {right})", params


class OneOf(Predicate):
    """``value IN (…)`` (``negated``: ``NOT IN``) over a non-empty list."""

    def __init__(self, value: Any, items: list[Any], negated: bool = False) -> None:
        super().__init__(value, *items)
        self.negated = negated

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (value, *items), params = self.compiled(compiler)
        operator = "NOT IN" if self.negated else "IN"
        return f"({value} {operator} ({', '.join(items)}))", params


class IsNull(Predicate):
    def __init__(self, source: Any, negated: bool = False) -> None:
        super().__init__(source)
        self.negated = negated

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (value,), params = self.compiled(compiler)
        return f"({value} IS {'NOT ' if self.negated else ''}NULL)", params


class Constant(Predicate):
    def __init__(self, value: bool) -> None:
        super().__init__()
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return ("(1 = 1)" if self.value else "(1 = 0)"), []


class TextMatch(Predicate):
    """``text.startsWith(fragment)`` (or ``endsWith``, ``contains``; ``negated``: does
    not), case-sensitive; NULL text is neither."""

    def __init__(self, text: Any, method: str, fragment: str, negated: bool = False) -> None:
        super().__init__(text)
        self.method, self.fragment, self.negated = method, fragment, negated

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (text,), params = self.compiled(compiler)
        escaped = self.fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {
            "startsWith": f"{escaped}%",
            "endsWith": f"%{escaped}",
            "contains": f"%{escaped}%",
        }[self.method]
        operator = "NOT LIKE" if self.negated else "LIKE"
        return f"({text} {operator} %s)", [*params, pattern]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        (text,), params = self.compiled(compiler)
        if self.method == "contains":
            test = "= 0" if self.negated else "> 0"
            return f"(instr({text}, %s) {test})", [*params, self.fragment]
        equal = "<>" if self.negated else "="
        length = len(self.fragment)
        if self.method == "startsWith":
            return f"(substr({text}, 1, %s) {equal} %s)", [*params, length, self.fragment]
        sql = f"(substr({text}, length({text}) - %s + 1) {equal} %s)"
        return sql, [*params, *params, length, self.fragment]
