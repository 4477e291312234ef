"""Claim a unit: pending -> running, only while its run is not cancelled; load what it needs.

On PostgreSQL one statement does both (an UPDATE ... RETURNING inside a WITH, joined to the run,
sample, dataset and taxonomy rows): a worker's first round trip for each unit. Elsewhere (SQLite)
the same conditional UPDATE, then one SELECT.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, F, Model, OuterRef, Q
from django.utils import timezone

from annotator.models import Dataset, PipelineRun, Sample, StageResult, Taxonomy
from annotator.pipeline.runs.units import PENDING, RUNNING

# A unit still "running" after this long lost its worker (killed without redelivery): retake it.
STALE_CLAIM = timedelta(minutes=30)

# (alias, model, fields) of the rows loaded with a claimed unit; the unit's own come first.
_LOADED: list[tuple[str, type[Model], list[str]]] = [
    ("u", StageResult, ["id", "run", "sample", "stage", "model_name", "prompt_version", "round",
                        "status", "attempts", "claimed_at"]),
    ("r", PipelineRun, ["id", "dataset", "config", "stages", "cancel_requested"]),
    ("s", Sample, ["id", "dataset", "external_id", "image_path", "width", "height",
                   "content_hash", "status"]),
    ("d", Dataset, ["id", "name", "taxonomy", "model_weights", "images_root"]),
    ("t", Taxonomy, ["id", "name", "labels"]),
]  # fmt: skip


def claim_unit(*, unit_id: int, takeover: bool = False) -> StageResult | None:
    """Mark the unit running and return it (with run and sample, dataset, taxonomy loaded), or
    None when it is not pending, its run is cancelled, or it is gone. `takeover`: also retake
    a running unit (the broker redelivered its message: the worker that had it died)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_postgresql(unit_id, now, takeover)
    claimable = Q(status=PENDING) | Q(status=RUNNING, claimed_at__lt=now - STALE_CLAIM)
    if takeover:
        claimable |= Q(status=RUNNING)
    live = PipelineRun.objects.filter(pk=OuterRef("run_id"), cancel_requested=False)
    claimed = StageResult.objects.filter(claimable, Exists(live), pk=unit_id).update(
        status=RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return (
        StageResult.objects.select_related("run", "sample__dataset__taxonomy")
        .defer("sample__des")
        .get(pk=unit_id)
    )


def _columns(alias: str, model: type[Model], names: list[str]) -> list[tuple[str, Any]]:
    fields = [model._meta.get_field(name) for name in names]
    ordered = [f for f in model._meta.concrete_fields if f in fields]  # what from_db expects
    return [(f'{alias}."{f.column}"', f) for f in ordered]


@functools.cache
def _claim_sql() -> tuple[str, list[list[tuple[str, Any]]]]:
    """The statement (built once: models do not change) and the columns it returns."""
    tables = {alias: model._meta.db_table for alias, model, _ in _LOADED}
    columns = [_columns(alias, model, names) for alias, model, names in _LOADED]
    unit_columns = ", ".join(f'u."{f.column}"' for _, f in columns[0])
    selected = ", ".join(f'c."{f.column}"' for _, f in columns[0])
    selected += "".join(f", {sql}" for group in columns[1:] for sql, _ in group)
    sql = f"""
        WITH c AS (
            UPDATE "{tables["u"]}" AS u
            SET status = %(running)s, claimed_at = %(now)s, attempts = u.attempts + 1
            FROM "{tables["r"]}" AS r
            WHERE u.id = %(id)s AND r.id = u.run_id AND NOT r.cancel_requested
              AND (u.status = %(pending)s
                   OR (u.status = %(running)s AND (%(takeover)s OR u.claimed_at < %(stale)s)))
            RETURNING {unit_columns}
        )
        SELECT {selected} FROM c
        JOIN "{tables["r"]}" AS r ON r.id = c.run_id
        JOIN "{tables["s"]}" AS s ON s.id = c.sample_id
        JOIN "{tables["d"]}" AS d ON d.id = s.dataset_id
        JOIN "{tables["t"]}" AS t ON t.id = d.taxonomy_id
    """
    return sql, columns


def _claim_postgresql(unit_id: int, now: datetime, takeover: bool) -> StageResult | None:
    sql, columns = _claim_sql()
    params: dict[str, Any] = {
        "id": unit_id, "now": now, "stale": now - STALE_CLAIM, "takeover": takeover,
        "pending": PENDING, "running": RUNNING,
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _build(list(row), columns)


def _build(row: list[Any], columns: list[list[tuple[str, Any]]]) -> StageResult:
    instances = []
    for (_, model, _), group in zip(_LOADED, columns, strict=True):
        values = [row.pop(0) for _ in group]
        for index, (_, field) in enumerate(group):
            if hasattr(field, "from_db_value"):  # JSON text from the database
                values[index] = field.from_db_value(values[index], None, connection)
        instances.append(model.from_db(connection.alias, [f.attname for _, f in group], values))
    unit, run, sample, dataset, taxonomy = instances
    assert isinstance(unit, StageResult) and isinstance(run, PipelineRun)
    assert isinstance(sample, Sample) and isinstance(dataset, Dataset)
    assert isinstance(taxonomy, Taxonomy)
    dataset.taxonomy = taxonomy
    sample.dataset = dataset
    unit.run, unit.sample = run, sample
    return unit
