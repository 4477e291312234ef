"""Reads behind the API's datasets, sample listings and sample regions.

Regions follow the sample page's rules (review.policy, review.views.sample): the machines'
boxes and masks for whoever may see the machines (not while a machine-blind answer is pending),
and people's accepted masks only to those who compare people's work (adjudicators, auditors,
admins, none of them answering blind) or, to anyone else, only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from annotator.lib.rle import mask_bbox
from annotator.models import Dataset, Region, Sample
from review import policy
from review.models import MaskEdit
from review.policy import SampleAccess
from review.selectors.assignment import user_assignments
from review.selectors.export import DatasetCounts, export_overview

ROLE_ORDER: tuple[str, ...] = tuple(Region.Role.values)


def datasets_with_counts(*, name: str = "") -> list[DatasetCounts]:
    """Every dataset (or the one called `name`) with its samples per status: two queries."""
    overview = export_overview()
    return [entry for entry in overview if not name or entry.dataset.name == name]


def dataset_counts(*, dataset: Dataset) -> DatasetCounts:
    """One dataset's samples per status (one query)."""
    counts = dict.fromkeys(Sample.Status.values, 0)
    rows = dataset.samples.order_by().values_list("status").annotate(n=Count("id"))
    for status, n in rows:
        counts[status] = n
    return DatasetCounts(dataset=dataset, counts=counts)


def dataset_samples(*, dataset: Dataset, user: Any, status: str = "") -> QuerySet[Sample]:
    """The dataset's samples the person may list, by id: all of them for adjudicators and
    auditors, the ones handed to them for annotators (as the queue)."""
    samples = Sample.objects.filter(dataset=dataset).defer("des").order_by("id")
    if not policy.sees_whole_queue(user=user):
        samples = samples.filter(pk__in=user_assignments(user=user).values("sample_id"))
    if status:
        samples = samples.filter(status=status)
    return samples


@dataclass(frozen=True)
class RegionView:
    """One B-A-S element as the API shows it: box in pixels, mask as COCO RLE."""

    role: str
    phrase: str
    box: list[float] | None  # [x1, y1, x2, y2] in image pixels (a mask's bounds for a person)
    mask: dict[str, Any] | None  # {"size": [height, width], "counts": "<compressed RLE>"}
    origin: str  # import, model or person
    model_name: str
    segmenter: str
    score: float | None
    author: str | None  # a person's mask: whose


def visible_regions(*, sample: Sample, access: SampleAccess, user: Any) -> list[RegionView]:
    """The regions `user` may see on `sample`, background first: the machines' (unless they are
    hidden from this person), then people's accepted masks they may see."""
    if access.machines_hidden or not access.read_masks:
        return []
    machine = Region.objects.filter(sample=sample).exclude(origin=Region.Origin.PERSON)
    rows = sorted(machine, key=lambda r: (ROLE_ORDER.index(r.role), r.pk))
    phrases = {r.role: r.phrase for r in reversed(rows) if r.phrase}
    views = [
        RegionView(
            role=r.role, phrase=r.phrase, box=r.box, mask=r.mask or None, origin=r.origin,
            model_name=r.model_name, segmenter=r.segmenter, score=r.score, author=None,
        )
        for r in rows
    ]  # fmt: skip
    if access.see_all:
        views += _accepted_masks(sample=sample, author_id=None, phrases=phrases)
    elif access.edit_masks:
        views += _accepted_masks(sample=sample, author_id=user.pk, phrases=phrases)
    return views


def _accepted_masks(
    *, sample: Sample, author_id: int | None, phrases: dict[str, str]
) -> list[RegionView]:
    """Per element and person (or only `author_id`), the latest accepted edit not undone."""
    edits = MaskEdit.objects.filter(sample=sample, accepted_at__isnull=False, undone=False)
    if author_id is not None:
        edits = edits.filter(author_id=author_id)
    ranked = edits.annotate(
        rank=Window(RowNumber(), partition_by=[F("role"), F("author_id")], order_by=F("seq").desc())
    )
    latest = [e for e in ranked.filter(rank=1).select_related("author") if e.candidates]
    latest.sort(key=lambda e: (ROLE_ORDER.index(e.role), e.author.username if e.author else ""))
    return [
        RegionView(
            role=e.role,
            phrase=phrases.get(e.role, ""),
            box=_mask_box(e.candidates[e.chosen]["rle"]),
            mask=e.candidates[e.chosen]["rle"],
            origin=Region.Origin.PERSON,
            model_name="",
            segmenter=e.segmenter,
            score=float(e.candidates[e.chosen]["score"]),
            author=e.author.username if e.author else None,
        )
        for e in latest
    ]


def _mask_box(rle: dict[str, Any]) -> list[float] | None:
    """[x1, y1, x2, y2] around a person's mask (they draw no box); None when it is empty."""
    x, y, w, h = mask_bbox(rle)
    return [float(x), float(y), float(x + w), float(y + h)] if w and h else None
