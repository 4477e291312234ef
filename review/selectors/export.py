"""Reads for the label export: keyset batches of samples and their related rows.

Each function is one query, so an export costs a constant number of queries per batch however
many samples, proposals or regions a batch holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from review.models import Adjudication

SCOPE_DECIDED = "decided"
SCOPE_ALL = "all"
SCOPES = (SCOPE_DECIDED, SCOPE_ALL)
DECIDED_STATUSES = (Sample.Status.ADJUDICATED, Sample.Status.AGREED)

SAMPLE_FIELDS = (
    "id",
    "external_id",
    "image_path",
    "source",
    "status",
    "suggested_emotion",
    "updated_at",
)


@dataclass
class BatchRelated:
    """What a batch of samples needs beside the samples, keyed by sample id."""

    proposals: dict[int, list[Proposal]] = field(default_factory=lambda: defaultdict(list))
    adjudications: dict[int, dict[str, Any]] = field(default_factory=dict)
    verdicts: dict[int, str] = field(default_factory=dict)
    verdict_times: dict[int, Any] = field(default_factory=dict)
    regions: dict[int, list[Region]] = field(default_factory=lambda: defaultdict(list))


def dataset_by_name(*, name: str) -> Dataset | None:
    return Dataset.objects.select_related("taxonomy").filter(name=name).first()


def dataset_names() -> list[str]:
    return list(Dataset.objects.order_by("name").values_list("name", flat=True))


@dataclass(frozen=True)
class DatasetCounts:
    """One dataset's samples per status, for the export page."""

    dataset: Dataset
    counts: dict[str, int]

    @property
    def decided(self) -> int:
        return sum(self.counts[status] for status in DECIDED_STATUSES)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def export_overview() -> list[DatasetCounts]:
    """Every dataset with its samples per status (two queries, whatever the number of datasets)."""
    datasets = list(Dataset.objects.order_by("name"))
    counts = {d.pk: dict.fromkeys(Sample.Status.values, 0) for d in datasets}
    rows = Sample.objects.order_by().values_list("dataset_id", "status").annotate(n=Count("id"))
    for dataset_id, status, n in rows:
        if dataset_id in counts:
            counts[dataset_id][status] = n
    return [DatasetCounts(dataset=d, counts=counts[d.pk]) for d in datasets]


def export_model_names(*, dataset: Dataset) -> list[str]:
    """Every model that proposed on the dataset, sorted: one `emotion_<model>` column each."""
    names = (
        Proposal.objects.filter(sample__dataset=dataset)
        .order_by()
        .values_list("model_name", flat=True)
        .distinct()
    )
    return sorted(names)


def export_status_counts(*, dataset: Dataset) -> dict[str, int]:
    """Samples per status (every status present, zeros included)."""
    counts = dict.fromkeys(Sample.Status.values, 0)
    rows = (
        Sample.objects.filter(dataset=dataset)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    return counts


def _scope_queryset(*, dataset: Dataset, scope: str, with_des: bool) -> Any:
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}: use one of {', '.join(SCOPES)}")
    qs = Sample.objects.filter(dataset=dataset)
    if scope == SCOPE_DECIDED:
        qs = qs.filter(status__in=DECIDED_STATUSES)
    fields = (*SAMPLE_FIELDS, "des") if with_des else SAMPLE_FIELDS
    return qs.only(*fields).order_by("id")


def iter_sample_batches(
    *, dataset: Dataset, scope: str, batch_size: int, with_des: bool = False
) -> Iterator[list[Sample]]:
    """Samples in id order, `batch_size` at a time (keyset: id > last id, never OFFSET)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    qs = _scope_queryset(dataset=dataset, scope=scope, with_des=with_des)
    last_id = 0
    while True:
        batch = list(qs.filter(id__gt=last_id)[:batch_size])
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        last_id = batch[-1].pk


def _latest_per_sample(qs: Any, *, order_by: Sequence[Any]) -> Any:
    """Keep each sample's first row under `order_by` (one query with a window function)."""
    return qs.annotate(
        rank=Window(RowNumber(), partition_by=[F("sample_id")], order_by=list(order_by))
    ).filter(rank=1)


def fetch_batch_related(*, sample_ids: Sequence[int]) -> BatchRelated:
    """Proposals, latest adjudication, latest verdict and boxed regions: one query each."""
    related = BatchRelated()
    proposals = Proposal.objects.filter(sample_id__in=sample_ids).only(
        "sample_id",
        "model_name",
        "description",
        "emotion",
        "confidence",
        "background",
        "attribute",
        "subject",
    )
    for proposal in proposals:
        related.proposals[proposal.sample_id].append(proposal)

    adjudications = _latest_per_sample(
        Adjudication.objects.filter(sample_id__in=sample_ids),
        order_by=[F("decided_at").desc(), F("id").desc()],
    ).values(
        "sample_id",
        "emotion",
        "confidence",
        "background",
        "attribute",
        "subject",
        "decided_at",
        "annotator__username",
    )
    related.adjudications = {row["sample_id"]: row for row in adjudications}

    verdicts = _latest_per_sample(
        CriticVerdict.objects.filter(sample_id__in=sample_ids),
        order_by=[F("created_at").desc(), F("id").desc()],
    ).values_list("sample_id", "verdict", "created_at")
    for sample_id, verdict, created_at in verdicts:
        related.verdicts[sample_id] = verdict
        related.verdict_times[sample_id] = created_at

    regions = (
        Region.objects.filter(sample_id__in=sample_ids)
        .exclude(x1=None)
        .exclude(y1=None)
        .exclude(x2=None)
        .exclude(y2=None)
        .only("sample_id", "role", "phrase", "x1", "y1", "x2", "y2")
        .order_by("sample_id", "id")
    )
    for region in regions:
        related.regions[region.sample_id].append(region)
    return related
