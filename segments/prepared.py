"""Querysets whose SQL is compiled once per process (issue #16).

Building and compiling a queryset (``filter()`` resolving its lookups and joins, then the
compiler writing the SQL) cost more Python than the database spends on the short
queries every request makes: the API token, the ledger or segment of the path. A
``PreparedQuery`` builds its queryset once per process, with a ``Param`` where each value
goes, compiles it once per database alias, and keeps the SQL and the compiler; each call
then binds
that call's values to the placeholders and runs the same SQL through the ORM's own
iterables, so rows become model instances (``select_related`` included) or ``values()``
dicts exactly as for the queryset built afresh.

The rule: the SQL of a prepared query depends on nothing but its values, so a query whose
shape varies with the input (a list's filters) is not prepared. A bound queryset cannot be
changed (``filter()``, ``order_by()``, slicing raise ``TypeError``): a change would not be
in the SQL already compiled, so it must be written into the prepared query itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql import Query


class _Slot:
    """Where a ``Param``'s value goes among a compiled statement's parameters."""

    __slots__ = ("field", "name")

    def __init__(self, name: str, field: Field) -> None:
        self.name, self.field = name, field


class Param(Expression):
    """A value given at each call of a prepared query: one placeholder in its SQL, the
    value prepared for the database by ``output_field`` as a filter would prepare it."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[_Slot]]:
        return "%s", (_Slot(self.name, self.output_field),)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # constants, and a _Slot where a value is bound
    compiler: Any  # after as_sql(): its select, klass_info and row converters are known


def _shallow_copy[T](obj: T, cls: type | None = None) -> T:
    """A new object sharing ``obj``'s attributes (``copy.copy`` of a QuerySet would run
    it: its ``__getstate__`` fetches the rows)."""
    new = object.__new__(cls or type(obj))
    new.__dict__.update(obj.__dict__)
    return new


class _BoundQuery(Query):
    """The template's query with one call's values: it compiles to the prepared SQL, on
    whichever database the router picks when the rows are read."""

    _prepared: PreparedQuery
    _values: dict[str, Any]

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        if using is None:
            using = next(alias for alias in connections if connections[alias] is connection)
        compiled = self._prepared.compiled(using)
        connection = connections[using]
        params = tuple(
            param.field.get_db_prep_value(self._values[param.name], connection)
            if isinstance(param, _Slot)
            else param
            for param in compiled.params
        )
        compiler = _shallow_copy(compiled.compiler)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (compiled.sql, params)
        return compiler

    def chain(self, klass=None):
        raise TypeError("A prepared query cannot be changed; change the PreparedQuery.")

    clone = chain


class PreparedQuery:
    """``build(**params)`` gives the queryset, each ``params[name]`` a ``Param``; calling
    the prepared query with ``name=value`` for each of them gives that queryset bound to
    those values, ready to be iterated (not to be changed)."""

    def __init__(self, build: Callable[..., QuerySet], **params: Field) -> None:
        self._build = build
        self._params = params
        self._template: QuerySet | None = None
        self._compiled: dict[str, _Compiled] = {}
        # Compiling sets up the template's query (its aliases): one thread at a time.
        self._lock = threading.Lock()

    def template(self) -> QuerySet:
        """The queryset, built once, a ``Param`` in each value's place."""
        if self._template is None:
            with self._lock:
                if self._template is None:
                    self._template = self._build(
                        **{name: Param(name, field) for name, field in self._params.items()}
                    )
        return self._template

    def compiled(self, using: str) -> _Compiled:
        """The template's SQL on the database ``using``, compiled the first time."""
        compiled = self._compiled.get(using)
        if compiled is None:
            template = self.template()
            with self._lock:
                compiled = self._compiled.get(using)
                if compiled is None:
                    compiler = template.query.get_compiler(using=using)
                    sql, params = compiler.as_sql()
                    compiled = _Compiled(sql, tuple(params), compiler)
                    self._compiled[using] = compiled
        return compiled

    def __call__(self, **values: Any) -> QuerySet:
        if values.keys() != self._params.keys():
            raise TypeError(f"Prepared query takes {sorted(self._params)}, got {sorted(values)}.")
        template = self.template()
        bound = _shallow_copy(template.query, _BoundQuery)
        bound._prepared, bound._values = self, values
        queryset = _shallow_copy(template)
        queryset._query = bound
        queryset._result_cache = None
        queryset._prefetch_done = False
        return queryset

    def first(self, **values: Any) -> Any:
        """The first row (the prepared queryset says its order and limit), or None."""
        return next(iter(self(**values)), None)
