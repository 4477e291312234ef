"""Building blocks of the audit's queries: the filters, numbers computed in SQL, and rows
fetched straight into numpy arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F, Func, IntegerField, QuerySet
from django.utils import timezone

from annotator.models import Dataset

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
T = TypeVar("T")


class EpochMillis(Func):
    """A timestamp as whole milliseconds since 1970, computed by the database: converting
    hundreds of thousands of datetimes in Python costs more than the query. Integers, so that
    fetch carries them without its exactness check (julianday's float resolves ~50 us)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # CAST(x + 0.5): SQLite's round(x, n) formats and parses text, 4x slower.
        template = "CAST((julianday(%(expressions)s) - 2440587.5) * 86400000.0 + 0.5 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000)::bigint"
        return self.as_sql(compiler, connection, template=template)


@dataclass(frozen=True)
class AuditFilters:
    dataset: Dataset
    source: str = ""
    since: date | None = None
    until: date | None = None  # inclusive

    def cache_part(self) -> str:
        return f"{self.dataset.pk}:{self.source}:{self.since or ''}:{self.until or ''}"

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out)."""
        params = {"dataset": self.dataset.name, "source": self.source}
        params["since"] = self.since.isoformat() if self.since else ""
        params["until"] = self.until.isoformat() if self.until else ""
        return {key: value for key, value in params.items() if value}

    def window(self, field: str) -> dict[str, datetime]:
        """ORM lookups keeping rows whose `field` falls in the date range (local dates)."""
        lookups = {}
        if self.since:
            lookups[f"{field}__gte"] = _midnight(self.since)
        if self.until:
            lookups[f"{field}__lt"] = _midnight(self.until + timedelta(days=1))
        return lookups


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def fetch(qs: QuerySet[Any, Any]) -> FloatArray:
    """A values_list query of numbers as a rows x columns float array (NULL -> NaN), rows in
    no particular order.

    The rows never become Python objects: one aggregate query sends each column as one
    comma-separated string of integers (GROUP_CONCAT, string_agg), which numpy parses in C;
    fetching rows instead costs about 1 us a row in tuples and floats. Floats travel as integer
    millionths, and the same query checks that this is exact (every value is k/10^6, as
    confidences like 7.5 are); when some value is not, the query is fetched row by row.
    """
    compiler = qs.query.get_compiler(using=qs.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # qs.none(), or a filter no row can match: nothing to ask
        return np.zeros((0, len(compiler.select)))
    kinds = [_kind(column[0]) for column in compiler.select]
    connection = connections[qs.db]
    if connection.vendor in _DIALECTS:
        columns = _fetch_columns(connection, sql, params, kinds)
        if columns is not None:
            return columns
    return _fetch_rows(connection, sql, params, len(kinds))


def in_background(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start function(*args) on a thread of its own; call the result to wait for its value.

    The thread reads through a database connection of its own, which it closes. Inside a
    transaction (tests, a request in ATOMIC_REQUESTS) another connection would not see the
    transaction's rows, so the function runs right here instead.
    """
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        value = function(*args)
        return lambda: value

    def run() -> T:
        try:
            return function(*args)
        finally:
            connections.close_all()  # this thread's connections only

    future = _pool.submit(run)
    return future.result


_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="audit-load")
NULL_CODE = -(2**62)  # stands for NULL in the integer strings
SCALE = 1_000_000  # floats travel as integer millionths


@dataclass(frozen=True)
class _Dialect:
    """How one database writes the columnar query: {c} a column, {v} its integer value."""

    integer: str
    boolean: str
    millionths: str
    joined: str  # the column's integers as one string
    inexact: str  # counts floats that are not exactly their millionths


_DIALECTS = {
    "sqlite": _Dialect(
        integer="{c}",
        boolean="{c}",
        millionths=f"CAST(round({{c}} * {SCALE}.0) AS INTEGER)",
        joined=f"GROUP_CONCAT(IFNULL({{v}}, {NULL_CODE}))",
        inexact=f"SUM({{v}} / {SCALE}.0 != {{c}})",  # NULLs compare to NULL, which SUM skips
    ),
    "postgresql": _Dialect(
        integer="({c})::bigint",
        boolean="({c})::int",
        millionths=f"round({{c}} * {SCALE}.0::float8)::bigint",
        joined=f"string_agg(COALESCE({{v}}, {NULL_CODE})::text, ',')",
        inexact=f"SUM(CASE WHEN {{v}} / {SCALE}.0::float8 <> {{c}} THEN 1 ELSE 0 END)",
    ),
}


def _kind(expression: Any) -> str:
    kind = expression.output_field.get_internal_type()
    if kind in ("FloatField", "DecimalField"):
        return "float"
    return "boolean" if kind == "BooleanField" else "integer"


def _fetch_rows(connection: Any, sql: str, params: Any, width: int) -> FloatArray:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


def _fetch_columns(connection: Any, sql: str, params: Any, kinds: list[str]) -> FloatArray | None:
    """The columnar transport; None when a float column is not in millionths."""
    dialect = _DIALECTS[connection.vendor]
    names = [f"c{i}" for i in range(len(kinds))]
    templates = {"float": dialect.millionths, "boolean": dialect.boolean}
    values = [
        templates.get(kind, dialect.integer).format(c=name)
        for name, kind in zip(names, kinds, strict=True)
    ]
    strings = [dialect.joined.format(v=value) for value in values]
    inexact = [
        dialect.inexact.format(v=value, c=name)
        for name, value, kind in zip(names, values, kinds, strict=True)
        if kind == "float"
    ]
    outer = (
        f"WITH t({', '.join(names)}) AS ({sql}) "
        f"SELECT COUNT(*), {', '.join(strings + inexact) or '0'} FROM t"
    )  # One pass: every aggregate sees the rows in the same order.
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        row = cursor.fetchone()
    if any(row[1 + len(names) :]):
        return None
    if not row[0]:
        return np.zeros((0, len(names)))
    codes = np.column_stack(
        [np.fromstring(text, sep=",", dtype=np.int64) for text in row[1 : 1 + len(names)]]
    )
    out = codes.astype(np.float64)
    out[codes == NULL_CODE] = np.nan
    out[:, [kind == "float" for kind in kinds]] /= SCALE
    return out


class Coded(Func):
    """The index of a text column's value in `values`, -1 for any other value: a simple CASE
    (CASE column WHEN ... ), which SQLite runs faster than Django's searched CASE WHEN."""

    output_field = IntegerField()

    def __init__(self, field: str, values: Sequence[str]) -> None:
        super().__init__(F(field))
        self.values = list(values)

    def as_sql(  # type: ignore[override]  # no function/template: the SQL is built here
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        if not self.values:
            return "-1", []
        whens = " ".join(f"WHEN %s THEN {i}" for i in range(len(self.values)))
        return f"CASE {column} {whens} ELSE -1 END", [*params, *self.values]


def coded(field: str, values: Sequence[str]) -> Coded:
    return Coded(field, values)


def positions(ids: IntArray, wanted: npt.ArrayLike) -> IntArray:
    """Index of each wanted sample id in `ids` (ascending), -1 when it is not there."""
    found = np.asarray(wanted, dtype=np.int64).reshape(-1)
    if not len(ids) or not len(found):
        return np.full(len(found), -1, dtype=np.int64)
    index = np.searchsorted(ids, found).clip(0, len(ids) - 1)
    return np.where(ids[index] == found, index, -1)
