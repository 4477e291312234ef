"""Claim a unit: pending -> running, only while its run is not cancelled; load what it needs.

On PostgreSQL one statement does both (an UPDATE ... RETURNING inside a WITH, joined to the run,
sample, dataset and taxonomy rows): a worker's first round trip for each unit, or for a whole
chunk of units (`claim_units`). Elsewhere (SQLite) the same conditional UPDATE, then one SELECT.

A claim names its process and holds a lease (lease.py): a running unit is claimable again once
its lease lapsed, or at once when its process is known to be gone (`take_unit`). A unit held by
a live process is "busy": the caller checks again when that lease would lapse.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, F, Model, OuterRef, Q
from django.utils import timezone

from annotator.models import Dataset, PipelineRun, Sample, StageResult, Taxonomy
from annotator.pipeline.runs.lease import holder_id, holder_is_gone, lease_length
from annotator.pipeline.runs.units import PENDING, RUNNING

# (alias, model, fields) of the rows loaded with a claimed unit; the unit's own come first.
_LOADED: list[tuple[str, type[Model], list[str]]] = [
    ("u", StageResult, ["id", "run", "sample", "stage", "model_name", "prompt_version", "round",
                        "status", "attempts", "claimed_at", "claimed_by", "lease_until"]),
    ("r", PipelineRun, ["id", "dataset", "config", "stages", "cancel_requested"]),
    ("s", Sample, ["id", "dataset", "external_id", "image_path", "width", "height",
                   "content_hash", "status"]),
    ("d", Dataset, ["id", "name", "taxonomy", "model_weights", "images_root"]),
    ("t", Taxonomy, ["id", "name", "labels"]),
]  # fmt: skip


@dataclass(frozen=True)
class Taken:
    unit: StageResult | None
    busy_for: float | None = None  # seconds until the lease of a live holder lapses


def take_unit(*, unit_id: int, retake_own: bool = False) -> Taken:
    """Claim the unit for this process; or retake a claim whose process is gone (`retake_own`:
    also one this process holds, its earlier try having ended). A unit a live process holds
    is busy until its lease lapses."""
    holder = holder_id()
    unit = claim_unit(unit_id=unit_id, holder=holder)
    if unit is not None:
        return Taken(unit)
    row = (
        StageResult.objects.filter(pk=unit_id, status=RUNNING, run__cancel_requested=False)
        .values_list("claimed_by", "lease_until")
        .first()
    )
    if row is None:
        return Taken(None)  # finished, cancelled or gone
    claimed_by, lease_until = row
    if (retake_own and claimed_by == holder) or holder_is_gone(claimed_by):
        unit = claim_unit(unit_id=unit_id, holder=holder, takeover_from=claimed_by)
        if unit is not None:
            return Taken(unit)
    if lease_until is None:
        return Taken(None)
    return Taken(None, busy_for=max(0.0, (lease_until - timezone.now()).total_seconds()) + 1)


def claim_unit(
    *, unit_id: int, holder: str | None = None, takeover_from: str | None = None
) -> StageResult | None:
    """Mark the unit running under `holder` (this process by default) and return it (with run
    and sample, dataset, taxonomy loaded), or None when it is neither pending nor running with a
    lapsed lease (nor held by `takeover_from`), its run is cancelled, or it is gone."""
    now = timezone.now()
    holder = holder or holder_id()
    if connection.vendor == "postgresql":
        units = _claim_postgresql(unit_id, now, holder, takeover_from)
        return units[0] if units else None
    claimable = (
        Q(status=PENDING)
        | Q(status=RUNNING, lease_until__isnull=True)
        | Q(status=RUNNING, lease_until__lt=now)
    )
    if takeover_from is not None:
        claimable |= Q(status=RUNNING, claimed_by=takeover_from)
    live = PipelineRun.objects.filter(pk=OuterRef("run_id"), cancel_requested=False)
    claimed = StageResult.objects.filter(claimable, Exists(live), pk=unit_id).update(
        status=RUNNING, claimed_at=now, claimed_by=holder, lease_until=now + lease_length(),
        send_due=None, attempts=F("attempts") + 1,
    )  # fmt: skip
    if not claimed:
        return None
    return (
        StageResult.objects.select_related("run", "sample__dataset__taxonomy")
        .defer("sample__des")
        .get(pk=unit_id)
    )


def claim_units(*, unit_ids: list[int], holder: str | None = None) -> list[StageResult]:
    """`claim_unit` for many units in one statement: those claimed (pending, or running with a
    lapsed lease, of a run not cancelled), loaded like claim_unit's; the rest are left as they
    are (finished, held by a live process, gone) for the caller to look at one by one."""
    if not unit_ids:
        return []
    now = timezone.now()
    holder = holder or holder_id()
    if connection.vendor == "postgresql":
        return _claim_postgresql(list(unit_ids), now, holder, None)
    claimable = (
        Q(status=PENDING)
        | Q(status=RUNNING, lease_until__isnull=True)
        | Q(status=RUNNING, lease_until__lt=now)
    )
    live = PipelineRun.objects.filter(pk=OuterRef("run_id"), cancel_requested=False)
    StageResult.objects.filter(claimable, Exists(live), pk__in=unit_ids).update(
        status=RUNNING, claimed_at=now, claimed_by=holder, lease_until=now + lease_length(),
        send_due=None, attempts=F("attempts") + 1,
    )  # fmt: skip
    return list(
        StageResult.objects.select_related("run", "sample__dataset__taxonomy")
        .defer("sample__des")
        .filter(pk__in=unit_ids, status=RUNNING, claimed_by=holder, claimed_at=now)
        .order_by("id")
    )


def _columns(alias: str, model: type[Model], names: list[str]) -> list[tuple[str, Any]]:
    fields = [model._meta.get_field(name) for name in names]
    ordered = [f for f in model._meta.concrete_fields if f in fields]  # what from_db expects
    return [(f'{alias}."{f.column}"', f) for f in ordered]


@functools.cache
def _claim_sql(many: bool = False) -> tuple[str, list[list[tuple[str, Any]]]]:
    """The statement (built once: models do not change) and the columns it returns; `many`:
    for a list of unit ids (%(id)s an array)."""
    tables = {alias: model._meta.db_table for alias, model, _ in _LOADED}
    columns = [_columns(alias, model, names) for alias, model, names in _LOADED]
    unit_columns = ", ".join(f'u."{f.column}"' for _, f in columns[0])
    selected = ", ".join(f'c."{f.column}"' for _, f in columns[0])
    selected += "".join(f", {sql}" for group in columns[1:] for sql, _ in group)
    sql = f"""
        WITH c AS (
            UPDATE "{tables["u"]}" AS u
            SET status = %(running)s, claimed_at = %(now)s, claimed_by = %(holder)s,
                lease_until = %(lease_until)s, send_due = NULL, attempts = u.attempts + 1
            FROM "{tables["r"]}" AS r
            WHERE u.id {"= ANY(%(id)s)" if many else "= %(id)s"}
              AND r.id = u.run_id AND NOT r.cancel_requested
              AND (u.status = %(pending)s
                   OR (u.status = %(running)s
                       AND (u.lease_until IS NULL OR u.lease_until < %(now)s
                            OR u.claimed_by = %(takeover_from)s)))
            RETURNING {unit_columns}
        )
        SELECT {selected} FROM c
        JOIN "{tables["r"]}" AS r ON r.id = c.run_id
        JOIN "{tables["s"]}" AS s ON s.id = c.sample_id
        JOIN "{tables["d"]}" AS d ON d.id = s.dataset_id
        JOIN "{tables["t"]}" AS t ON t.id = d.taxonomy_id
        ORDER BY c.id
    """
    return sql, columns


_SHARED = (PipelineRun, Dataset, Taxonomy)  # read-only for the units: one instance a chunk
Shared = tuple[type[Model], Any]  # (model, primary key)


def _claim_postgresql(
    unit_id: int | list[int], now: datetime, holder: str, takeover_from: str | None
) -> list[StageResult]:
    sql, columns = _claim_sql(many=isinstance(unit_id, list))
    params: dict[str, Any] = {
        "id": unit_id, "now": now, "holder": holder, "lease_until": now + lease_length(),
        "takeover_from": takeover_from, "pending": PENDING, "running": RUNNING,
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    shared: dict[Shared, Model] = {}
    return [_build(list(row), columns, shared) for row in rows]


def _build(
    row: list[Any], columns: list[list[tuple[str, Any]]], shared: dict[Shared, Model]
) -> StageResult:
    """The unit and its run, sample, dataset and taxonomy from one row; the run, dataset and
    taxonomy that `shared` has already (from another unit of the chunk) are not parsed again
    (the run's config is JSON)."""
    instances = []
    offset = 0
    for (_, model, _), group in zip(_LOADED, columns, strict=True):
        values, offset = row[offset : offset + len(group)], offset + len(group)
        key = (model, values[0])  # the primary key: the first concrete field
        if model in _SHARED and key in shared:
            instances.append(shared[key])
            continue
        for index, (_, field) in enumerate(group):
            if hasattr(field, "from_db_value"):  # JSON text from the database
                values[index] = field.from_db_value(values[index], None, connection)
        instance = model.from_db(connection.alias, [f.attname for _, f in group], values)
        shared[key] = instance
        instances.append(instance)
    unit, run, sample, dataset, taxonomy = instances
    assert isinstance(unit, StageResult) and isinstance(run, PipelineRun)
    assert isinstance(sample, Sample) and isinstance(dataset, Dataset)
    assert isinstance(taxonomy, Taxonomy)
    dataset.taxonomy = taxonomy
    sample.dataset = dataset
    unit.run, unit.sample = run, sample
    return unit
