"""Which samples a person will probably open next: their embeddings are computed ahead."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import QuerySet

from annotator.models import Sample
from review.models import Assignment
from review.selectors.prepared import fetch


def upcoming_sample_ids(*, user: Any, sample: Sample, count: int) -> list[int]:
    """The samples `user` will probably open next: their other active assignments, oldest lease
    first; without any, the next samples by id sharing this one's dataset and status."""
    if count <= 0:
        return []
    # Prepared statements: every sample page asks.
    values = {"user_id": user.pk, "sample_id": sample.pk}
    leased = fetch(
        key=f"upcoming_leased:{count}", build=partial(_leased, count=count), values=values
    )
    if leased:
        return [pk for (pk,) in leased]
    values = {"dataset_id": sample.dataset_id, "status": sample.status, "sample_id": sample.pk}
    following = fetch(
        key=f"upcoming_next:{count}", build=partial(_next, count=count), values=values
    )
    return [pk for (pk,) in following]


def _leased(*, user_id: int, sample_id: int, count: int) -> QuerySet[Any]:
    active = Assignment.objects.filter(annotator_id=user_id, status=Assignment.Status.ACTIVE)
    return (
        active.exclude(sample_id=sample_id)
        .order_by("leased_at", "id")
        .values_list("sample_id")[:count]
    )


def _next(*, dataset_id: int, status: str, sample_id: int, count: int) -> QuerySet[Any]:
    after = Sample.objects.filter(dataset_id=dataset_id, status=status, pk__gt=sample_id)
    return after.order_by("id").values_list("id")[:count]
