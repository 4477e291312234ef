"""Reads for the label export: keyset batches of samples and their related rows.

Each function is one query, so an export costs a constant number of queries per batch however
many samples, proposals or regions a batch holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import BinaryField, Count, F, QuerySet, Value, Window
from django.db.models.functions import RowNumber

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from review.models import Adjudication, MaskEdit

SCOPE_DECIDED = "decided"
SCOPE_ALL = "all"
SCOPES = (SCOPE_DECIDED, SCOPE_ALL)
DECIDED_STATUSES = (Sample.Status.ADJUDICATED, Sample.Status.AGREED)


# Rows as plain tuples: building model instances was most of an export's time.
class SampleRow(NamedTuple):
    id: int
    external_id: str
    image_path: str
    source: str
    status: str
    suggested_emotion: str
    updated_at: datetime
    width: int
    height: int
    content_hash: str
    status_changed_at: datetime | None
    des: bytes | memoryview | None


class ProposalRow(NamedTuple):
    sample_id: int
    model_name: str
    emotion: str
    confidence: float | None
    description: str
    background: str
    attribute: str
    subject: str
    prompt_version: str


class AdjudicationRow(NamedTuple):
    sample_id: int
    emotion: str
    confidence: float
    background: str
    attribute: str
    subject: str
    decided_at: datetime
    method: str
    details: dict[str, Any]
    notes: str
    annotator: str | None


class VerdictRow(NamedTuple):
    sample_id: int
    verdict: str
    created_at: datetime
    model_name: str
    emotion: str
    reasoning: str
    instructions: str
    prompt_version: str


class RegionRow(NamedTuple):
    sample_id: int
    role: str
    phrase: str
    x1: float
    y1: float
    x2: float
    y2: float
    mask: dict[str, Any] | None  # COCO RLE, imported or made from the box by a segmenter
    segmenter: str
    origin: str
    model_name: str
    score: float | None


class MaskRow(NamedTuple):
    """A person's accepted mask of one B-A-S element: the chosen candidate of the edit."""

    sample_id: int
    role: str
    candidates: list[dict[str, Any]]
    chosen: int
    segmenter: str
    accepted_at: datetime


@dataclass
class BatchRelated:
    """What a batch of samples needs beside the samples, keyed by sample id."""

    proposals: dict[int, list[ProposalRow]] = field(default_factory=dict)
    adjudications: dict[int, AdjudicationRow] = field(default_factory=dict)
    verdicts: dict[int, VerdictRow] = field(default_factory=dict)
    regions: dict[int, list[RegionRow]] = field(default_factory=dict)
    masks: dict[int, list[MaskRow]] = field(default_factory=dict)


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


def _scope_queryset(*, dataset: Dataset, scope: str) -> QuerySet[Sample]:
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}: use one of {', '.join(SCOPES)}")
    qs = Sample.objects.filter(dataset=dataset)
    if scope == SCOPE_DECIDED:
        qs = qs.filter(status__in=DECIDED_STATUSES)
    return qs.order_by("id")


def iter_sample_batches(
    *, dataset: Dataset, scope: str, batch_size: int, with_des: bool = False
) -> Iterator[list[SampleRow]]:
    """Samples in id order, `batch_size` at a time (keyset: id > last id, never OFFSET).

    Without `with_des` the 4 KiB DES column is not read (des is None).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    qs = _scope_queryset(dataset=dataset, scope=scope)
    des: Any = F("des") if with_des else Value(None, output_field=BinaryField())
    fields = [f for f in SampleRow._fields if f != "des"]
    last_id = 0
    while True:
        values = qs.filter(id__gt=last_id).values_list(*fields, des)[:batch_size]
        batch = [SampleRow(*row) for row in values]
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        last_id = batch[-1].id


def batch_sample_ids(
    *, dataset: Dataset, scope: str, first_id: int, last_id: int
) -> QuerySet[Sample, int]:
    """One batch's sample ids as a subquery: the database reads them from the index, where a
    list of 2,000 parameters cost Django more time to prepare than the query took to run."""
    return (
        _scope_queryset(dataset=dataset, scope=scope)
        .filter(id__gte=first_id, id__lte=last_id)
        .order_by()
        .values_list("id", flat=True)
    )


def _latest_per_sample(qs: Any, *, order_by: Sequence[Any]) -> Any:
    """Keep each sample's first row under `order_by` (one query with a window function)."""
    return qs.annotate(
        rank=Window(RowNumber(), partition_by=[F("sample_id")], order_by=list(order_by))
    ).filter(rank=1)


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.sample_id, []).append(row)
    return grouped


def fetch_batch_related(*, sample_ids: Iterable[int]) -> BatchRelated:
    """Proposals, final label, latest verdict, boxed regions, accepted masks: one query each.

    `sample_ids` is a list or, cheaper, a subquery (batch_sample_ids).
    """
    proposals = Proposal.objects.filter(sample_id__in=sample_ids).order_by("sample_id", "id")
    # The final label: each sample's highest version that is not reverted.
    adjudications = _latest_per_sample(
        Adjudication.objects.filter(sample_id__in=sample_ids, reverted=False),
        order_by=[F("version").desc()],
    )
    verdicts = _latest_per_sample(
        CriticVerdict.objects.filter(sample_id__in=sample_ids),
        order_by=[F("created_at").desc(), F("id").desc()],
    )
    regions = Region.objects.filter(
        sample_id__in=sample_ids,
        x1__isnull=False,
        y1__isnull=False,
        x2__isnull=False,
        y2__isnull=False,
    ).order_by("sample_id", "id")
    adjudication_fields = [f for f in AdjudicationRow._fields if f != "annotator"]
    return BatchRelated(
        proposals=_grouped(
            ProposalRow(*row) for row in proposals.values_list(*ProposalRow._fields)
        ),
        adjudications={
            row[0]: AdjudicationRow(*row)
            for row in adjudications.values_list(*adjudication_fields, "annotator__username")
        },
        verdicts={row[0]: VerdictRow(*row) for row in verdicts.values_list(*VerdictRow._fields)},
        regions=_grouped(RegionRow(*row) for row in regions.values_list(*RegionRow._fields)),
        masks=_grouped(
            MaskRow(*row) for row in accepted_masks(sample_ids).values_list(*MaskRow._fields)
        ),
    )


def accepted_masks(sample_ids: Iterable[int]) -> Any:
    """Per sample and element, the latest accepted mask edit that is not undone (one query)."""
    edits = MaskEdit.objects.filter(
        sample_id__in=sample_ids, accepted_at__isnull=False, undone=False
    )
    return (
        edits.annotate(
            rank=Window(
                RowNumber(), partition_by=[F("sample_id"), F("role")], order_by=[F("seq").desc()]
            )
        )
        .filter(rank=1)
        .order_by("sample_id", "role")
    )
