"""Reads behind the review queue: which samples wait for a person, and how many per status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from annotator.models import Dataset, Proposal, Sample
from annotator.taxonomy import MIKELS_8_LABELS
from review.selectors.assignment import needs_adjudication

DISPUTED = Sample.Status.DISPUTED.value
NEEDS_ADJUDICATION = "needs_adjudication"  # not a Sample.Status: answers in, no agreement


def queue_samples(
    *, dataset: Dataset | None, status: str = DISPUTED, source: str = "", suggested: str = ""
) -> QuerySet[Sample]:
    """Samples matching the filters, oldest first; an empty filter means "any".

    Kept lean on purpose (no join, no per-row aggregate) so the database walks the
    `sample_queue*` index in id order and stops at the page: a join or a correlated count made
    SQLite sort every matching row first (a last page took 277 ms at 219K samples, 3 ms without;
    bench/queue_speed.py). The dataset comes by prefetch; counts via `with_proposal_counts`.
    The DES vector (4 KiB a row) is deferred: the queue never shows it.
    """
    qs = Sample.objects.defer("des").prefetch_related("dataset")
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    if status == NEEDS_ADJUDICATION:
        qs = qs.filter(pk__in=needs_adjudication(dataset=dataset).values("pk"))
    elif status:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(source=source)
    if suggested:
        qs = qs.filter(suggested_emotion=suggested)
    return qs.order_by("id")


def with_proposal_counts(*, samples: Iterable[Sample]) -> list[Sample]:
    """The samples (a page of the queue), each with `proposal_count` set: one query."""
    rows = list(samples)
    counts = dict(
        Proposal.objects.filter(sample_id__in=[row.pk for row in rows])
        .order_by()
        .values_list("sample_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        row.proposal_count = counts.get(row.pk, 0)  # type: ignore[attr-defined]
    return rows


def next_sample_after(
    *, sample: Sample, status: str = DISPUTED, wrap: bool = True
) -> Sample | None:
    """The next sample by id in the same dataset with `status`, wrapping to the start.

    Wrapping brings back samples someone skipped earlier, so "Queue done" means done.
    """
    same = (
        Sample.objects.defer("des")
        .filter(dataset_id=sample.dataset_id, status=status)
        .exclude(pk=sample.pk)
    )
    after = same.filter(pk__gt=sample.pk).order_by("id").first()
    if after is not None or not wrap:
        return after
    return same.filter(pk__lt=sample.pk).order_by("id").first()


def previous_sample_before(*, sample: Sample, status: str = DISPUTED) -> Sample | None:
    """The previous sample by id in the same dataset with `status` (no wrapping)."""
    same = Sample.objects.defer("des").filter(dataset_id=sample.dataset_id, status=status)
    return same.filter(pk__lt=sample.pk).order_by("-id").first()


def first_queued_sample(*, dataset: Dataset | None, status: str = DISPUTED) -> Sample | None:
    qs = Sample.objects.filter(status=status).only("id").order_by("id")
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.first()


def queue_counts(*, dataset: Dataset | None) -> dict[str, int]:
    """Samples per status (every status present, zero when none), in one query."""
    qs = Sample.objects.all() if dataset is None else Sample.objects.filter(dataset=dataset)
    counts = {status.value: 0 for status in Sample.Status}
    for row in qs.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def adjudication_count(*, dataset: Dataset | None) -> int:
    """Samples waiting for an adjudicator."""
    return needs_adjudication(dataset=dataset).count()


@dataclass(frozen=True)
class QueueChoices:
    sources: list[str]
    emotions: list[str]


def queue_filter_choices(*, dataset: Dataset | None) -> QueueChoices:
    """Values the source and suggested-emotion filters can take, as present in the data."""
    qs = Sample.objects.all() if dataset is None else Sample.objects.filter(dataset=dataset)
    sources = sorted(s for s in qs.order_by().values_list("source", flat=True).distinct() if s)
    present = {e for e in qs.order_by().values_list("suggested_emotion", flat=True).distinct() if e}
    order = dataset.taxonomy.labels if dataset is not None else MIKELS_8_LABELS
    rank = {label: i for i, label in enumerate(order)}
    emotions = sorted(present, key=lambda e: (rank.get(e, len(rank)), e))
    return QueueChoices(sources=sources, emotions=emotions)
