"""Reads for the DES map: the queue's selection filter, the map to show, the DES cache key."""

from __future__ import annotations

from django.db.models import Count, Max, Q, Subquery

from annotator.models import Sample
from review.models_desmap import DesMap, MapSelectionSample


def selection_filter(*, selection: str, dataset_id: int) -> Q | None:
    """The samples a map selection holds, as a filter on Sample; None for an unknown token (or
    one of another dataset). A subquery, not an id list: a selection may hold 219K samples."""
    rows = MapSelectionSample.objects.filter(
        selection__token=selection, selection__dataset_id=dataset_id
    )
    if not selection or not rows.exists():
        return None
    return Q(id__in=Subquery(rows.values("sample_id")))


def des_cache_key(*, dataset_id: int) -> str:
    """Changes when a sample with a DES is added, removed or rewritten (updated_at moves on
    every write, so a reviewed sample also changes it: the page only offers a recompute then)."""
    agg = Sample.objects.filter(dataset_id=dataset_id, des__isnull=False).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    last = agg["last"].isoformat() if agg["last"] else ""
    return f"{agg['n']}:{last}"


def count_from_cache_key(key: str) -> int:
    head, _, _ = key.partition(":")
    return int(head) if head.isdigit() else 0


def latest_des_map(*, dataset_id: int, method: str, done: bool = True) -> DesMap | None:
    """The newest finished map (done=True), or the newest of any status."""
    maps = DesMap.objects.filter(dataset_id=dataset_id, method=method)
    if done:
        maps = maps.filter(status=DesMap.Status.DONE)
    return maps.order_by("-created_at", "-id").first()
