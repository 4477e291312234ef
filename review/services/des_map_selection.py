"""A box or lasso drawn on the DES map, saved as a selection the queue can filter by."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.utils import timezone

from annotator.models import Sample
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
from review.services.des_map_store import QUANT_MAX, inside_polygon, quantized, unpack_points

# A selection is a link to a queue, kept a week: a box over 219K samples is 219K rows.
KEEP_SELECTIONS = timedelta(days=7)
MAX_POLYGON_POINTS = 2000  # a lasso is thinned by the page well below this
INSERT_BATCH = 20000


class SelectionError(ValueError):
    """The polygon is not one the map can use."""


def parse_polygon(text: str) -> list[tuple[float, float]]:
    """Points from "x1,y1 x2,y2 ..." in the map's sent coordinates (the points lie in 0..65535);
    SelectionError for fewer than three points, too many, too far out, or not numbers."""
    points: list[tuple[float, float]] = []
    for pair in text.split():
        x_text, _, y_text = pair.partition(",")
        try:
            x, y = float(x_text), float(y_text)
        except ValueError as exc:
            raise SelectionError(f"not a point: {pair[:40]!r}") from exc
        # Beyond the points' 0..65535 too: a box drawn around the whole map holds its edges.
        if not (-QUANT_MAX <= x <= 2 * QUANT_MAX and -QUANT_MAX <= y <= 2 * QUANT_MAX):
            raise SelectionError(f"a point outside the map: {pair[:40]!r}")
        points.append((x, y))
        if len(points) > MAX_POLYGON_POINTS:
            raise SelectionError(f"more than {MAX_POLYGON_POINTS} points")
    if len(points) < 3:
        raise SelectionError("draw a box or a lasso on the map first")
    return points


def create_map_selection(
    *, des_map: DesMap, polygon: list[tuple[float, float]], user: Any = None
) -> MapSelection:
    """Save the samples of `des_map` inside `polygon` (possibly none) under a new token."""
    points = unpack_points(des_map.points)
    qx, qy = quantized(points)
    chosen = points.ids[inside_polygon(qx=qx, qy=qy, polygon=polygon)]
    with transaction.atomic():
        # Rows go with their selection in one DELETE (nothing refers to them).
        MapSelection.objects.filter(created_at__lt=timezone.now() - KEEP_SELECTIONS).delete()
        selection = MapSelection.objects.create(
            token=secrets.token_urlsafe(12),
            dataset_id=des_map.dataset_id,
            des_map=des_map,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        # Samples deleted since the map was computed are left out.
        kept = np.intersect1d(chosen, _sample_ids(dataset_id=des_map.dataset_id))
        _insert_rows(selection_id=selection.pk, sample_ids=kept)
        selection.n_samples = int(kept.shape[0])
        selection.save(update_fields=["n_samples"])
    return selection


def _sample_ids(*, dataset_id: int) -> npt.NDArray[np.int64]:
    table = Sample._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE dataset_id = %s", [dataset_id])
        return np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64)


def _insert_rows(*, selection_id: int, sample_ids: npt.NDArray[np.int64]) -> None:
    """Plain rows, written without model instances: 110K of them through the ORM's
    bulk_create took 8 s of CPU; COPY on PostgreSQL, executemany on SQLite."""
    table = MapSelectionSample._meta.db_table
    rows = [(selection_id, int(pk)) for pk in sample_ids]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_sql = f"COPY {table} (selection_id, sample_id) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            return
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(
                f"INSERT INTO {table} (selection_id, sample_id) VALUES (%s, %s)",
                rows[start : start + INSERT_BATCH],
            )
