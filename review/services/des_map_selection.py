"""A box or lasso drawn on the DES map, saved as a selection the queue can filter by."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from django.db import transaction

from annotator.models import Sample
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
from review.services.des_map_store import QUANT_MAX, inside_polygon, quantized, unpack_points

MAX_POLYGON_POINTS = 2000  # a lasso is thinned by the page well below this
INSERT_BATCH = 5000


class SelectionError(ValueError):
    """The polygon is not one the map can use."""


def parse_polygon(text: str) -> list[tuple[float, float]]:
    """ "x1,y1 x2,y2 ..." in the map's sent coordinates (0..65535) -> points; SelectionError for
    anything else (fewer than three points, too many, out of range, not numbers)."""
    points: list[tuple[float, float]] = []
    for pair in text.split():
        x_text, _, y_text = pair.partition(",")
        try:
            x, y = float(x_text), float(y_text)
        except ValueError as exc:
            raise SelectionError(f"not a point: {pair[:40]!r}") from exc
        if not (0 <= x <= QUANT_MAX and 0 <= y <= QUANT_MAX):
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
        selection = MapSelection.objects.create(
            token=secrets.token_urlsafe(12),
            dataset_id=des_map.dataset_id,
            des_map=des_map,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        saved = 0
        for start in range(0, chosen.shape[0], INSERT_BATCH):
            saved += _save_rows(selection, chosen[start : start + INSERT_BATCH])
        selection.n_samples = saved
        selection.save(update_fields=["n_samples"])
    return selection


def _save_rows(selection: MapSelection, ids: np.ndarray) -> int:
    """One batch of rows (ids ascending), less samples deleted since the map was computed:
    their ids are read back by range, not by an IN list of the batch."""
    existing = set(
        Sample.objects.filter(
            dataset_id=selection.dataset_id, id__gte=int(ids[0]), id__lte=int(ids[-1])
        ).values_list("id", flat=True)
    )
    rows = [MapSelectionSample(selection=selection, sample_id=int(pk)) for pk in ids]
    rows = [row for row in rows if row.sample_id in existing]
    MapSelectionSample.objects.bulk_create(rows)
    return len(rows)
