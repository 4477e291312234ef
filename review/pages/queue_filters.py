"""The queue's filters and rows: the filters read from the URL with one query for the
datasets and drawn without Django's widget templates; the rows' cells worked out once.

Django renders every <select> and every <option> through a template of its own (about a sixth
of the queue page's CPU); the same markup is built here in one pass, escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from annotator.models import Dataset, Sample
from review.forms.filters import QueueFilterForm
from review.selectors.queue import (
    DISPUTED,
    NEEDS_ADJUDICATION,
    queue_filter_choices,
    with_proposal_counts,
)
from review.selectors.queue_counts import QueueFigures
from review.selectors.review_order import dataset_orders

T = TypeVar("T", bound=Model)


@dataclass(frozen=True)
class FilterField:
    name: str
    label: str
    options: SafeString  # the <option> elements, the chosen one marked selected
    default: str = ""  # what an absent parameter means (read by app.js after Back/Forward)

    @property
    def id(self) -> str:
        return f"id_{self.name}"


@dataclass(frozen=True)
class QueueFilters:
    form: QueueFilterForm
    values: dict[str, Any]  # dataset (a Dataset or None), status, source, suggested
    orders: dict[int, str]  # dataset id -> review_order, for every dataset in scope
    dataset_names: dict[int, str]

    def fields(self) -> list[FilterField]:
        return [_field(bound, default=FILTER_DEFAULTS.get(bound.name, "")) for bound in self.form]


# No status in the URL means the disputed queue (see queue_filters).
FILTER_DEFAULTS = {"status": DISPUTED}


def _field(bound: Any, *, default: str) -> FilterField:
    chosen = str(bound.value() or "")
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if str(value) == chosen else ""}>'
        f"{escape(label)}</option>"
        for value, label in bound.field.choices
    )
    # Every value and label is escaped above.
    return FilterField(
        name=bound.name, label=str(bound.label), options=mark_safe(options), default=default
    )


def queue_filters(request: HttpRequest, *, figures: QueueFigures) -> QueueFilters:
    """The filters in the URL; an unknown value in one filter drops that filter, not the
    others. No status in the URL means the disputed queue."""
    data = request.GET.copy()
    data.setdefault("status", FILTER_DEFAULTS["status"])
    datasets = list(Dataset.objects.order_by("name").only("id", "name", "review_order"))
    # Choices span every dataset: they stay valid when htmx swaps results for another dataset.
    choices = queue_filter_choices(dataset=None, figures=figures)
    form = QueueFilterForm(
        data,
        datasets=[(d.pk, d.name) for d in datasets],
        sources=choices.sources,
        emotions=choices.emotions,
    )
    form.is_valid()
    chosen = form.cleaned_data.get("dataset", "")
    dataset = next((d for d in datasets if str(d.pk) == chosen), None)
    values = {
        "dataset": dataset,
        "status": form.cleaned_data.get("status", ""),
        "source": form.cleaned_data.get("source", ""),
        "suggested": form.cleaned_data.get("suggested", ""),
    }
    orders = (
        dataset_orders(dataset=dataset)
        if dataset is not None
        else {d.pk: d.review_order for d in datasets}
    )
    names = {d.pk: d.name for d in datasets}
    return QueueFilters(form=form, values=values, orders=orders, dataset_names=names)


HUNDREDTH = Decimal("0.01")
PK_MARK = "987654321"


def rows_html(rows: list[Any]) -> SafeString:
    """The queue table's rows (from `queue_rows`), built here in one pass: the same markup
    through the template engine cost about a quarter of the page (seven variables a row, each
    resolved, localised and escaped on its own)."""
    return mark_safe(  # every value is escaped here
        "".join(
            f'<tr><th scope="row"><a href="{escape(r.url)}">{escape(r.external_id)}</a></th>'
            f"<td>{escape(r.dataset_name)}</td><td>{escape(r.source) or '—'}</td>"
            f"<td>{_emotion(r.suggested_emotion, tie=r.vote_margin == 0)}</td>"
            f'<td class="num">{r.margin}</td><td class="num">{int(r.proposal_count)}</td>'
            f'<td><span class="badge status-{escape(r.status)}">{escape(r.status)}</span></td>'
            "</tr>\n"
            for r in rows
        )
    )


def _emotion(value: str, *, tie: bool = False) -> str:
    """The suggested emotion; on a tie it is only the first name in order (the sample page
    then starts its form empty), so the row says so."""
    if not value:
        return "—"
    e = escape(value)
    if tie:
        return (
            f'<span class="emotion emotion-{e}">{e}</span> <small class="muted" '
            'title="The models tie: this is only the first of the tied emotions">tie</small>'
        )
    return f'<span class="emotion emotion-{e}">{e}</span>'


def work_rows(assignments: Iterable[Any]) -> list[Any]:
    """The rows of an annotator's own work with their link and times (local, as the `date`
    filter writes "Y-m-d H:i" / "H:i") worked out once, not by a tag or filter per row."""
    rows = list(assignments)
    head, _, tail = reverse("review:sample", args=[int(PK_MARK)]).rpartition(PK_MARK)
    for row in rows:
        row.url = f"{head}{row.sample_id}{tail}"
        when = row.finished_at if row.status == "skipped" else row.leased_at
        row.when = timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else ""
        row.until = timezone.localtime(row.expires_at).strftime("%H:%M") if row.expires_at else ""
    return rows


def queue_rows(*, samples: Iterable[Sample], names: dict[int, str]) -> list[Sample]:
    """The page's samples with what their row shows worked out here, not by template tags
    per row: proposal count (one query), link, dataset name, margin as floatformat:2 writes
    it (half up)."""
    rows = with_proposal_counts(samples=samples)
    head, _, tail = reverse("review:sample", args=[int(PK_MARK)]).rpartition(PK_MARK)
    for row in rows:
        extra: Any = row
        extra.url = f"{head}{row.pk}{tail}"
        extra.dataset_name = names.get(row.dataset_id, "")
        margin = row.vote_margin
        extra.margin = (
            "—"
            if margin is None
            else str(Decimal(repr(margin)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP))
        )
    return rows


@dataclass(frozen=True)
class EmptyState:
    """Why the queue's list is empty, and where to look instead."""

    text: str
    others: list[tuple[str, int]]  # (status, samples) of the other statuses that hold some
    narrowed: bool  # source or emotion filters hide samples of this status: offer to clear them


def empty_state(*, filters: dict[str, Any], counts: dict[str, int], conflicts: int) -> EmptyState:
    """The words for an empty list: what the filters asked for, and whether other filters or
    statuses hold samples (the template links them)."""
    status = filters["status"]
    in_status = _status_total(status=status, counts=counts, conflicts=conflicts)
    narrowing = [
        f"{what} “{filters[key]}”"
        for key, what in (("source", "source"), ("suggested", "suggested emotion"))
        if filters[key]
    ]
    label = STATUS_WORDS.get(status, status)
    where = f" in {filters['dataset'].name}" if filters["dataset"] is not None else ""
    others = [(s, n) for s, n in counts.items() if n and s != status]
    if narrowing and in_status:
        wanted = " and ".join(narrowing)
        if in_status == 1:
            text = f"The only {label} sample{where} does not have {wanted}.".replace("  ", " ")
        else:
            text = f"None of the {' '.join(filter(None, [str(in_status), label]))} samples{where}"
            text += f" has {wanted}."
    elif status == DISPUTED:
        text = f"No disputed sample waits{where}: nothing is left for people to settle."
    elif status == NEEDS_ADJUDICATION:
        text = f"No sample needs adjudication{where}: no sample's answers disagree."
    elif status == "":
        text = f"No sample{where} yet: import a dataset to fill the queue."
    else:
        text = f"No {label} sample{where}."
    return EmptyState(text=text, others=others, narrowed=bool(narrowing and in_status))


STATUS_WORDS = {"": "", NEEDS_ADJUDICATION: "needs-adjudication"}


def _status_total(*, status: str, counts: dict[str, int], conflicts: int) -> int:
    if status == NEEDS_ADJUDICATION:
        return conflicts
    return counts.get(status, 0) if status else sum(counts.values())


class KnownCount(Generic[T]):
    """Rows whose number the page already counted (work_counts): Django's Paginator asks
    `count()` here instead of a COUNT(*) of its own, then slices the rows."""

    def __init__(self, rows: QuerySet[T], *, count: int) -> None:
        self.rows, self.total = rows, count

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]
