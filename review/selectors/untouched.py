""" "Next"'s cheap first try: the first untouched samples (no answer, vote or live lease yet),
in the hand-out order, as a prepared statement (building the candidates query cost more CPU
than running it)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db.models import F, QuerySet

from annotator.models import Dataset, Sample
from review.models_consensus import SamplePosterior
from review.selectors.assignment import DatasetSettings, annotation_candidates, dataset_settings
from review.selectors.prepared import among_sql, fetch
from review.selectors.queue_counts import open_extras_exist
from review.selectors.review_order import POSTERIOR_FIELDS

POSTERIOR_WINDOW = 500  # samples with the highest posterior value looked at first


def untouched_candidate_ids(
    *, user: Any, dataset: Dataset | None, now: datetime, limit: int
) -> list[int]:
    """The first `limit` ids of annotation_candidates(untouched_only=True), in its order: a
    prepared statement (building the candidates query cost more CPU than running it).

    A dataset ordered by a posterior value is looked at through the POSTERIOR_WINDOW samples
    with the highest value first (its index, then those rows): sorting every open sample by
    value after weighing it would walk the whole dataset. The window is a prefix of the
    order, so what it finds comes first anyway; only when it finds nothing is the whole
    order read."""
    settings = dataset_settings()
    values: dict[str, Any] = {"user_id": user.pk, "now": now}
    order = ""
    if dataset is not None:
        values["dataset_id"], order = dataset.pk, dataset.review_order
    # Only disputed samples open: walked by the queue's index, not every row (each with its
    # DES) up to the first untouched one.
    extras = open_extras_exist(dataset_id=None if dataset is None else dataset.pk)
    windows = [POSTERIOR_WINDOW, None] if order in POSTERIOR_FIELDS else [None]
    for window in windows:
        rows = fetch(
            key=f"untouched:{dataset is None}:{order}:{limit}:{window}:{extras}:{settings}",
            build=partial(
                _untouched_ids,
                settings=settings,
                limit=limit,
                order=order,
                window=window,
                extras=extras,
            ),
            values=values,
        )
        if rows:
            break
    return [row[0] for row in rows]


def _untouched_ids(
    *,
    user_id: int,
    now: datetime,
    settings: DatasetSettings,
    limit: int,
    order: str,
    window: int | None,
    extras: bool,
    dataset_id: int | None = None,
) -> QuerySet[Any]:
    dataset = None if dataset_id is None else Dataset(pk=dataset_id, review_order=order)
    candidates = annotation_candidates(
        user=user_id,
        dataset=dataset,
        now=now,
        untouched_only=True,
        settings=settings,
        extras=extras,
    )
    if window is not None and dataset_id is not None:
        field = POSTERIOR_FIELDS[order].split("__", 1)[1]
        top = (
            SamplePosterior.objects.filter(dataset_id=dataset_id)
            .order_by(F(field).desc(), "sample_id")
            .values_list("sample_id")[:window]
        )
        among, params = among_sql(column=f'"{Sample._meta.db_table}"."id"', ids=top)
        candidates = candidates.extra(where=[among], params=params)
    return candidates.values_list("id")[:limit]
