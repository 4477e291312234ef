"""Reads behind the review queue: which samples wait for a person, and how many per status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import Combinable

from annotator.models import Dataset, Proposal, Sample
from annotator.taxonomy import MIKELS_8_LABELS
from review.selectors.assignment import (
    answered_or_conflicting_ids,
    gold_q,
    needs_adjudication,
    open_q,
)
from review.selectors.prepared import among_sql, count
from review.selectors.queue_counts import QueueFigures, queue_figures
from review.selectors.review_order import (
    Key,
    is_ordered_by_value,
    ordered_by_value,
    ordering,
    parse_key,
)

DISPUTED = Sample.Status.DISPUTED.value
NEEDS_ADJUDICATION = "needs_adjudication"  # not a Sample.Status: answers in, no agreement
QUEUE_COLUMNS = ("id", "dataset_id", "external_id", "source", "suggested_emotion", "vote_margin",
                 "status")  # fmt: skip


def queue_samples(
    *,
    dataset: Dataset | None,
    status: str = DISPUTED,
    source: str = "",
    suggested: str = "",
    order: Combinable | None = None,
    selection: Q | None = None,
) -> QuerySet[Sample]:
    """Samples matching the filters, oldest first; an empty filter means "any". With `order`
    (review.selectors.review_order), highest value first instead; `selection` narrows further
    (the DES map's lasso).

    Kept lean on purpose (no join, no per-row aggregate) so the database walks the
    `sample_queue*` index in id order and stops at the page: a join or a correlated count made
    SQLite sort every matching row first (a last page took 277 ms at 219K samples, 3 ms without;
    bench/queue_speed.py). The dataset comes by prefetch; counts via `with_proposal_counts`.
    Only the columns the queue shows are read (not the 4 KiB DES, nor the JSON reasons).
    """
    qs = Sample.objects.only(*QUEUE_COLUMNS).prefetch_related("dataset")
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
    if selection is not None:
        qs = qs.filter(selection)
    if order is not None:
        return ordered_by_value(qs, value=order)
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


def queue_counts(*, dataset: Dataset | None, figures: QueueFigures | None = None) -> dict[str, int]:
    """Samples per status (every status present, zero when none), from QueueCount."""
    figures = figures or queue_figures()
    return figures.status_counts(dataset_id=None if dataset is None else dataset.pk)


def adjudication_count(*, dataset: Dataset | None) -> int:
    """Samples waiting for an adjudicator (needs_adjudication), counted by one prepared
    statement that works out the candidate ids first (people's work: answered or conflicting
    samples), then reads those rows by primary key (review.selectors.prepared.among_sql)."""
    values = {} if dataset is None else {"dataset_id": dataset.pk}
    return count(
        key=f"adjudication_count:{bool(values)}", build=_waiting_for_adjudication, values=values
    )


def _waiting_for_adjudication(*, dataset_id: int | None = None) -> QuerySet[Sample]:
    ids = answered_or_conflicting_ids().values_list("sample_id", flat=True)
    among, params = among_sql(column=f'"{Sample._meta.db_table}"."id"', ids=ids)
    waiting = Sample.objects.filter(open_q()).exclude(gold_q()).order_by()
    if dataset_id is not None:
        waiting = waiting.filter(dataset_id=dataset_id)
    # `among` is the compiled SQL of our own query, its values passed as parameters.
    return waiting.extra(where=[among], params=params).values_list("id")


@dataclass(frozen=True)
class QueueChoices:
    sources: list[str]
    emotions: list[str]


def queue_filter_choices(
    *, dataset: Dataset | None, figures: QueueFigures | None = None
) -> QueueChoices:
    """Values the source and suggested-emotion filters can take, as present in the data."""
    figures = figures or queue_figures()
    pk = None if dataset is None else dataset.pk
    order = dataset.taxonomy.labels if dataset is not None else MIKELS_8_LABELS
    rank = {label: i for i, label in enumerate(order)}
    present = figures.emotions(dataset_id=pk)
    emotions = sorted(present, key=lambda e: (rank.get(e, len(rank)), e))
    return QueueChoices(sources=sorted(figures.sources(dataset_id=pk)), emotions=emotions)


@dataclass
class QueuePage:
    """A page of the queue, shaped like Django's Page where the templates read it, whose links
    carry the id they continue from: `after` the last row for Next, `before` the first for
    Previous. A keyset page costs the same at page 2,600 as at page 1 (an OFFSET walks every
    row before it); the total comes from QueueCount, not from a COUNT(*)."""

    object_list: list[Sample]
    number: int
    count: int
    per_page: int
    by_value: bool = False  # ordered by a posterior value: links carry "<value>:<id>"

    @property
    def paginator(self) -> QueuePage:  # templates read page.paginator.count / .num_pages
        return self

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages and bool(self.object_list)

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1

    def _token(self, row: Sample) -> str:
        if not self.by_value:
            return str(row.pk)
        return Key(value=getattr(row, "order_value", None), pk=row.pk).token

    @property
    def before(self) -> str | None:
        return self._token(self.object_list[0]) if self.object_list else None

    @property
    def after(self) -> str | None:
        return self._token(self.object_list[-1]) if self.object_list else None


def _page_number(value: str, *, num_pages: int) -> int:
    if value == "last":
        return num_pages
    return min(max(int(value), 1), num_pages) if value.isdecimal() else 1


def queue_page(
    *, samples: QuerySet[Sample], count: int, per_page: int, page: str, after: str, before: str
) -> QueuePage:
    """The page of `samples` (ordered by id, or by a value then id) that `page` names, found
    from `after` / `before` when the link carries one; a bare page number falls back to OFFSET
    (a typed URL)."""
    by_value = is_ordered_by_value(samples)
    result = QueuePage(object_list=[], number=1, count=count, per_page=per_page, by_value=by_value)
    number = _page_number(page, num_pages=result.num_pages)
    backwards = ordering(forwards=False) if by_value else ["-id"]
    after_q, before_q = _keyset(after, by_value=by_value), _keyset(before, by_value=by_value)
    if after_q is not None and number > 1:
        rows = list(samples.filter(after_q[0])[:per_page])
    elif before_q is not None:
        rows = list(samples.filter(before_q[1]).order_by(*backwards)[:per_page])[::-1]
    elif number == result.num_pages and number > 1:  # "last": the tail, read backwards
        tail = count - (number - 1) * per_page
        rows = list(samples.order_by(*backwards)[:tail])[::-1]
    else:
        rows = list(_offset_page(samples, start=(number - 1) * per_page, size=per_page))
    result.object_list, result.number = rows, number
    return result


def _offset_page(samples: QuerySet[Sample], *, start: int, size: int) -> QuerySet[Sample]:
    """Rows start..start+size of `samples` (a typed page number). The OFFSET walks only ids,
    which the `sample_queue*` index holds; skipping whole rows made PostgreSQL read 109K of
    them for page 1,318 at 219K samples (32 ms)."""
    if start == 0:
        return samples[:size]
    return samples.filter(pk__in=samples.values("pk")[start : start + size])


def _keyset(token: str, *, by_value: bool) -> tuple[Q, Q] | None:
    """(rows after, rows before) the row a link's token names; None for no token."""
    if not by_value:
        return (Q(id__gt=int(token)), Q(id__lt=int(token))) if token.isdecimal() else None
    key = parse_key(token)
    return None if key is None else (key.after_q(), key.before_q())
