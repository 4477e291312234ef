"""Building blocks of the audit's queries: the filters, numbers computed in SQL, and rows
fetched straight into numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connections
from django.db.models import Case, FloatField, Func, IntegerField, QuerySet, Value, When
from django.utils import timezone

from annotator.models import Dataset

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class EpochSeconds(Func):
    """A timestamp as float seconds since 1970, computed by the database: converting hundreds of
    thousands of datetimes in Python costs more than the query."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
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
    """A values_list query of numbers as a rows x columns float array (NULL -> NaN).

    The ORM writes the SQL; the rows come straight from the cursor, which is the floor of what
    a Python database driver costs per row (about 1 us). Strings are coded to numbers in SQL.
    """
    width = len(qs.query.values_select) + len(qs.query.annotation_select)
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


def coded(field: str, values: Sequence[str]) -> Case:
    """SQL CASE giving the index of `field`'s value in `values`, -1 for any other value."""
    whens = [When(**{field: value}, then=Value(i)) for i, value in enumerate(values)]
    return Case(*whens, default=Value(-1), output_field=IntegerField())


def positions(ids: IntArray, wanted: npt.ArrayLike) -> IntArray:
    """Index of each wanted sample id in `ids` (ascending), -1 when it is not there."""
    found = np.asarray(wanted, dtype=np.int64).reshape(-1)
    if not len(ids) or not len(found):
        return np.full(len(found), -1, dtype=np.int64)
    index = np.searchsorted(ids, found).clip(0, len(ids) - 1)
    return np.where(ids[index] == found, index, -1)
