"""Queries of a fixed shape, compiled to SQL once per process and run with new values.

Building and compiling an ORM query costs 0.3-3 ms of Python per statement (a UNION with a
GROUP BY about 2 ms; the annotator's candidates with their correlated counts more), more than
the database takes to answer the few-row reads a page makes. A query here is built once with
stand-ins where its values go (`slots`: an id, a text, a moment), compiled, and kept under
its key; each call puts the real values in the stand-ins' places and runs the SQL on a cursor.

Only for queries whose SQL does not depend on the values (no None, no lists: an IN list's
length changes the SQL; what does change the SQL goes into the key) and whose other values are
constants (nothing like now() built in: it would be kept from the first call). `fetch` returns
the rows as the database gives them (counts, ids, text); `instances` returns model instances,
each column converted as the ORM converts it (JSON, moments, booleans).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

_COMPILED: dict[tuple[str, str], tuple[str, tuple[str | None, ...], tuple[Any, ...]]] = {}
M = TypeVar("M", bound=Model)
# key -> (model, its columns' attnames, {position: (converters, expression)},
# {annotation: position})
_MODELS: dict[tuple[str, str], tuple[type[Model], list[str], dict[int, Any], dict[str, int]]] = {}


def _stand_in(name: str, value: Any, i: int) -> Any:
    """A value of the slot's type that no real value takes."""
    if isinstance(value, datetime):
        return datetime(1901, 2, 3, 4, 5, 6, i + 1, tzinfo=UTC)
    if isinstance(value, str):
        return f"\x1estand-in {name}"
    if isinstance(value, int) and not isinstance(value, bool):
        # Negative (no id is) and inside a 32-bit integer: PostgreSQL's auth_user.id is one,
        # and the ORM refuses to compile a lookup with a value out of its column's range.
        return -2_000_000_001 - i
    raise TypeError(f"slot {name}: {type(value).__name__} values cannot be prepared")


def _as_parameter(value: Any) -> Any:
    """What the ORM passes the database for `value` (SQLite gets moments as text)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _compile(
    key: str, build: Callable[..., QuerySet[Any]], values: dict[str, Any]
) -> tuple[str, tuple[str | None, ...], tuple[Any, ...]]:
    stand_ins = {name: _stand_in(name, v, i) for i, (name, v) in enumerate(values.items())}
    sql, params = build(**stand_ins).query.sql_with_params()
    wanted = {name: _as_parameter(s) for name, s in stand_ins.items()}
    # isinstance: PostgreSQL's backend wraps a BigIntegerField's value (psycopg's Int8, an int).
    names = tuple(
        next((name for name, s in wanted.items() if isinstance(p, type(s)) and p == s), None)
        for p in params
    )
    missing = set(values) - set(names)
    if missing:  # a value was folded into the SQL: this query cannot be prepared
        raise ValueError(f"{key}: slots {sorted(missing)} are not parameters")
    return _inline_constants(sql, names, tuple(params))


_PLACEHOLDER = re.compile(r"(?<!%)%s")


def _inline_constants(
    sql: str, names: tuple[str | None, ...], params: tuple[Any, ...]
) -> tuple[str, tuple[str | None, ...], tuple[Any, ...]]:
    """The query's constants (a status, a kind, a LIMIT: values our code built in, never a
    slot's) written into its SQL as literals. PostgreSQL reuses a generic plan for a prepared
    statement after five runs, planned without its parameters' values: "status BETWEEN $1 AND
    $2" was then any range, and "Next" walked 219K samples (1.4-15 s a call)."""
    pieces = _PLACEHOLDER.split(sql)
    if len(pieces) != len(params) + 1:
        return sql, names, params  # a placeholder it cannot tell apart: left as it is
    out, kept_names, kept = [pieces[0]], [], []
    for name, param, piece in zip(names, params, pieces[1:], strict=True):
        literal = _literal(param) if name is None else None
        if literal is None:
            out.append("%s")
            kept_names.append(name)
            kept.append(param)
        else:
            out.append(literal)
        out.append(piece)
    return "".join(out), tuple(kept_names), tuple(kept)


def _literal(value: Any) -> str | None:
    """SQL for a text or integer constant; None for anything else (kept a parameter)."""
    if isinstance(value, bool):
        return None  # SQLite and PostgreSQL spell booleans differently
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str) and "\x00" not in value:
        return text_literal(value)
    return None


def text_literal(value: str) -> str:
    """A text constant written into SQL that runs with parameters: quotes doubled, and % as
    %% (the driver reads %s and %% there). Only for our own constants, never people's text."""
    return "'" + str(value).replace("'", "''").replace("%", "%%") + "'"


def fetch(
    *,
    key: str,
    build: Callable[..., QuerySet[Any]],
    values: dict[str, Any] | None = None,
    around: tuple[str, str] = ("", ""),
) -> list[tuple[Any, ...]]:
    """Rows of the prepared query `key` (built by `build(**slots)`, run with `values`), its SQL
    put between `around` (e.g. ("SELECT COUNT(*) FROM (", ") AS counted"))."""
    values = values or {}
    entry = _COMPILED.get((key, connection.vendor))
    if entry is None:
        entry = _COMPILED[(key, connection.vendor)] = _compile(key, build, values)
    sql, names, constants = entry
    params = [
        constant if name is None else _as_parameter(values[name])
        for name, constant in zip(names, constants, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(around[0] + sql + around[1], params)
        return cursor.fetchall()


def count(
    *, key: str, build: Callable[..., QuerySet[Any]], values: dict[str, Any] | None = None
) -> int:
    """COUNT(*) of the prepared query `key`'s rows."""
    rows = fetch(key=key, build=build, values=values, around=("SELECT COUNT(*) FROM (", ") AS n"))
    return int(rows[0][0])


def among_sql(*, column: str, ids: QuerySet[Any]) -> tuple[str, list[Any]]:
    """A condition "`column` is one of `ids`" (a one-column query) that every database plans
    as "work out the ids, then look those rows up": PostgreSQL gets `= ANY(ARRAY(...))`; with
    a plain IN and no statistics (a fresh import) it looped over every row for each id."""
    sql, params = ids.query.sql_with_params()
    if connection.vendor == "postgresql":
        return f"{column} = ANY(ARRAY({sql}))", list(params)
    return f"{column} IN ({sql})", list(params)


def instances(
    *, key: str, build: Callable[..., QuerySet[M]], values: dict[str, Any] | None = None
) -> list[M]:
    """Model instances of the prepared query `key` (built by `build(**slots)`, run with
    `values`): one model's own columns (deferred ones allowed) and its annotations, set as
    attributes as the ORM sets them (no select_related or values())."""
    values = values or {}
    shape = _MODELS.get((key, connection.vendor))
    if shape is None:
        shape = _MODELS[(key, connection.vendor)] = _model_shape(key, build, values)
    model, attnames, converters, annotations = shape
    rows = fetch(key=key, build=build, values=values)
    made: list[M] = []
    for row in rows:
        columns = list(row)
        for position, (functions, expression) in converters.items():
            for convert in functions:
                columns[position] = convert(columns[position], expression, connection)
        instance = cast(M, model.from_db(connection.alias, attnames, columns[: len(attnames)]))
        for name, position in annotations.items():
            setattr(instance, name, columns[position])
        made.append(instance)
    return made


def _model_shape(
    key: str, build: Callable[..., QuerySet[Any]], values: dict[str, Any]
) -> tuple[type[Model], list[str], dict[int, Any], dict[str, int]]:
    stand_ins = {name: _stand_in(name, v, i) for i, (name, v) in enumerate(values.items())}
    qs = build(**stand_ins)
    query = qs.query
    if qs._iterable_class is not ModelIterable or query.select_related:
        raise ValueError(f"{key}: only a model's own columns can be read as instances")
    compiler = query.get_compiler(connection=connection)
    compiler.setup_query()
    columns = [expression for expression, _, _ in compiler.select]
    fields = compiler.klass_info["select_fields"] if compiler.klass_info else []
    if fields != list(range(len(fields))):
        raise ValueError(f"{key}: the model's columns must come first")
    attnames = [columns[i].target.attname for i in fields]
    return qs.model, attnames, compiler.get_converters(columns), compiler.annotation_col_map


def attach_prefetched(instance: Model, name: str, rows: list[Any]) -> None:
    """Give `instance` its related rows `name` (a reverse foreign key) as prefetch_related
    would: `instance.<name>.all()` then returns `rows` without a query. Django keeps prefetched
    rows on the instance's `_prefetched_objects_cache`, as a queryset of the relation with its
    result cache filled; filtering it still queries the database, within the relation."""
    manager = getattr(instance, name)
    related = manager.get_queryset()
    related._result_cache = rows
    related._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    instance._prefetched_objects_cache[manager.field.remote_field.cache_name] = related  # type: ignore[attr-defined]
