"""The order people meet a dataset's samples in: by id, or where one more answer is worth most.

`Dataset.review_order` names a SamplePosterior column (the latest consensus fit's belief about
each sample): "entropy" or "expected_change". The queue and "Next" then order by that value,
highest first, then by id; samples without a posterior come after, in id order. Pages continue
from a keyset token, "<value>:<id>" ("<id>" alone where the order is by id, ":<id>" for a
sample without a posterior), never an OFFSET.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable, OrderBy

from annotator.models import Dataset, Sample

BY_ID = "id"
POSTERIOR_FIELDS = {
    "entropy": "posterior__entropy",
    "expected_change": "posterior__expected_change",
}
VALUE = "order_value"  # the alias the ordered querysets carry


def order_value(*, modes: dict[int, str], complete: bool = True) -> Combinable | None:
    """The value to order samples by, given their datasets' orders (dataset id -> order); None
    when every one orders by id. `complete`: `modes` names every dataset whose samples are in
    scope (otherwise the others order by id). One column for all: that column, so the index on
    it can serve; else a CASE on the dataset (NULL for datasets ordered by id)."""
    ordered = {pk: mode for pk, mode in modes.items() if mode in POSTERIOR_FIELDS}
    if not ordered:
        return None
    fields = set(ordered.values())
    if complete and len(fields) == 1 and len(ordered) == len(modes):
        return F(POSTERIOR_FIELDS[fields.pop()])
    whens = [
        When(dataset_id__in=[pk for pk, m in ordered.items() if m == mode], then=F(field))
        for mode, field in POSTERIOR_FIELDS.items()
        if mode in fields
    ]
    return Case(*whens, default=Value(None), output_field=FloatField())


def dataset_orders(*, dataset: Dataset | None) -> dict[int, str]:
    """Dataset id -> review_order for the dataset in scope (every dataset when None)."""
    if dataset is not None:
        return {dataset.pk: dataset.review_order}
    return dict(Dataset.objects.order_by().values_list("pk", "review_order"))


def ordering(*, forwards: bool = True) -> list[OrderBy | str]:
    """Highest value first, samples without one last, then id (reversed for Previous)."""
    if forwards:
        return [F(VALUE).desc(nulls_last=True), "id"]
    return [F(VALUE).asc(nulls_first=True), "-id"]


def ordered_by_value(qs: QuerySet[Sample], *, value: Combinable) -> QuerySet[Sample]:
    """`qs` in the value order, each row carrying its value (for the next page's token)."""
    return qs.annotate(**{VALUE: value}).order_by(*ordering())


def is_ordered_by_value(qs: QuerySet[Sample]) -> bool:
    return VALUE in qs.query.annotations


@dataclass(frozen=True)
class Key:
    """Where a page ends or starts in the value order."""

    value: float | None
    pk: int

    @property
    def token(self) -> str:
        return f"{'' if self.value is None else repr(self.value)}:{self.pk}"

    def after_q(self) -> Q:
        """Rows after this one (forwards)."""
        if self.value is None:
            return Q(**{f"{VALUE}__isnull": True, "id__gt": self.pk})
        return (
            Q(**{f"{VALUE}__lt": self.value})
            | Q(**{VALUE: self.value, "id__gt": self.pk})
            | Q(**{f"{VALUE}__isnull": True})
        )

    def before_q(self) -> Q:
        """Rows before this one (forwards)."""
        if self.value is None:
            return Q(**{f"{VALUE}__isnull": False}) | Q(
                **{f"{VALUE}__isnull": True, "id__lt": self.pk}
            )
        return Q(**{f"{VALUE}__gt": self.value}) | Q(**{VALUE: self.value, "id__lt": self.pk})


def parse_key(token: str) -> Key | None:
    """A token from a page link; None when it is not one (the page number then decides)."""
    value, sep, pk = token.rpartition(":")
    if not sep or not pk.isdecimal():
        return None
    if not value:
        return Key(value=None, pk=int(pk))
    try:
        number = float(value)
    except ValueError:
        return None
    return Key(value=number, pk=int(pk)) if math.isfinite(number) else None
