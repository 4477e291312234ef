"""Samples per queue bucket, read from QueueCount (kept exact by database triggers).

One query gives every figure the queue page shows above its rows: samples per status, the
filter choices, the paginator's total, and whether a dataset has agreed samples picked for a
human check or gold samples. Its cost follows the number of buckets (datasets x statuses x
sources x suggested emotions present), not the number of samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Count, Q, QuerySet, Sum

from annotator.models import Sample
from review.models import QueueCount
from review.selectors.prepared import fetch
from review.services import queue_counts as upkeep


def _ids(dataset_id: int | None) -> list[int] | None:
    return None if dataset_id is None else [dataset_id]


class Bucket(NamedTuple):  # a tuple: ~270 of them are made per page
    dataset_id: int
    status: str
    source: str
    suggested_emotion: str
    human_check: bool
    gold: bool
    n: int


@dataclass(frozen=True)
class QueueFigures:
    buckets: tuple[Bucket, ...]

    def _in(self, dataset_ids: Iterable[int] | None) -> list[Bucket]:
        if dataset_ids is None:
            return list(self.buckets)
        wanted = set(dataset_ids)
        return [b for b in self.buckets if b.dataset_id in wanted]

    def status_counts(self, *, dataset_id: int | None) -> dict[str, int]:
        """Samples per status, every status present (zero when none)."""
        counts = {status.value: 0 for status in Sample.Status}
        for b in self._in(_ids(dataset_id)):
            counts[b.status] = counts.get(b.status, 0) + b.n
        return counts

    def total(
        self, *, dataset_id: int | None, status: str = "", source: str = "", suggested: str = ""
    ) -> int:
        """Samples matching the queue's filters (an empty filter means "any")."""
        return sum(
            b.n
            for b in self._in(_ids(dataset_id))
            if (not status or b.status == status)
            and (not source or b.source == source)
            and (not suggested or b.suggested_emotion == suggested)
        )

    def sources(self, *, dataset_id: int | None = None) -> set[str]:
        return {b.source for b in self._in(_ids(dataset_id)) if b.source}

    def emotions(self, *, dataset_id: int | None = None) -> set[str]:
        return {b.suggested_emotion for b in self._in(_ids(dataset_id)) if b.suggested_emotion}

    def samples(self, *, dataset_ids: Iterable[int] | None) -> int:
        return sum(b.n for b in self._in(dataset_ids))

    def has_extras(self, *, dataset_ids: Iterable[int] | None) -> bool:
        """Whether any sample is open to people besides the disputed ones: an agreed one picked
        for a human check, or a gold one not dropped (review.selectors.assignment's open_q and
        gold_q)."""
        agreed, dropped = Sample.Status.AGREED.value, Sample.Status.DROPPED.value
        return any(
            (b.status == agreed and b.human_check) or (b.gold and b.status != dropped)
            for b in self._in(dataset_ids)
        )


FIELDS = ("dataset_id", "status", "source", "suggested_emotion", "human_check", "gold")


def queue_figures() -> QueueFigures:
    """Every non-empty bucket of every dataset, in one prepared query.

    On PostgreSQL the rows are deltas appended by the triggers, summed here; once they
    outnumber the buckets by COMPACT_SLACK they are folded (a write, about once per
    COMPACT_SLACK status-changing statements), so the sum stays short.
    """
    rows = fetch(key="queue_figures", build=_buckets)
    if sum(r[-1] for r in rows) > len(rows) + upkeep.COMPACT_SLACK:
        upkeep.compact()
    return QueueFigures(
        buckets=tuple(
            Bucket(int(d), str(st), str(so), str(e), bool(h), bool(g), int(t))
            for d, st, so, e, h, g, t, _ in rows
            if t
        )
    )


def _buckets() -> QuerySet[QueueCount]:
    return (
        QueueCount.objects.order_by()
        .values(*FIELDS)
        .annotate(total=Sum("n"), rows=Count("id"))
        .values_list(*FIELDS, "total", "rows")
    )


def open_extras_exist(*, dataset_id: int | None) -> bool:
    """QueueFigures.has_extras without reading every bucket: one prepared statement that
    stops at the first bucket of agreed samples picked for a human check or of gold samples
    not dropped that holds any."""
    key = f"open_extras:{dataset_id is None}"
    values = {} if dataset_id is None else {"dataset_id": dataset_id}
    return bool(fetch(key=key, build=_extra_buckets, values=values))


def _extra_buckets(*, dataset_id: int | None = None) -> QuerySet[QueueCount]:
    agreed, dropped = Sample.Status.AGREED, Sample.Status.DROPPED
    extras = QueueCount.objects.filter(
        Q(status=agreed, human_check=True) | (Q(gold=True) & ~Q(status=dropped))
    )
    if dataset_id is not None:
        extras = extras.filter(dataset_id=dataset_id)
    # PostgreSQL keeps deltas: a bucket holds samples when its rows sum above zero.
    summed = extras.order_by().values(*FIELDS).annotate(total=Sum("n")).filter(total__gt=0)
    return summed.values_list("dataset_id")[:1]
