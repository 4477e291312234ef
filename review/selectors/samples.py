"""Reads behind the sample page: the sample with its proposals, boxes, verdict and a draft."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from django.db.models import Max, QuerySet
from django.http import Http404

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample, Taxonomy
from review.limits import round_to_step
from review.models import Adjudication, Annotation, Draft
from review.request_memo import remembered
from review.selectors.prepared import attach_prefetched, instances
from review.selectors.users import user_by_id
from review.validators import ID_MAX

DEFAULT_WEIGHT = 1.0
COMPARED_FIELDS = [
    ("description", "Description"),
    ("emotion", "Emotion"),
    ("confidence", "Confidence"),
    ("background", "Background"),
    ("attribute", "Attribute"),
    ("subject", "Subject"),
]


def sample_for_review(*, pk: int) -> Sample:
    """The sample with its dataset, taxonomy, proposals (by model) and regions; 404 if absent.

    Every page view reads these: five prepared statements (building the ORM query with its
    select_related and two prefetches cost ~1.5 ms, more than the database took)."""
    sample = sample_for_answer(pk=pk)
    values = {"sample_id": pk}
    attach_prefetched(
        sample, "proposals", instances(key="proposals_of", build=_proposals, values=values)
    )
    attach_prefetched(sample, "regions", instances(key="regions_of", build=_regions, values=values))
    return sample


def sample_for_answer(*, pk: int) -> Sample:
    """The sample with its dataset and taxonomy, nothing prefetched: what a POST checks and
    saves against (a page drawn after it reads the proposals and regions: sample_for_review).
    Three prepared statements; 404 if absent."""
    # An id no row can have (the URL takes any digits) is not sent to the database.
    found = (
        instances(key="sample_row", build=_sample_row, values={"pk": pk})
        if 0 < pk <= ID_MAX
        else []
    )
    if not found:
        raise Http404("No sample matches the given query.")
    return _with_dataset(found[0])


def locked_sample(*, pk: int, skip_locked: bool = False, no_key: bool = False) -> Sample | None:
    """The sample row (without its DES) locked until the transaction ends, with its dataset and
    taxonomy (not locked); None when there is none, or, with `skip_locked`, when another
    transaction holds it. Call inside transaction.atomic(). Prepared statements: answers and
    hand-outs lock a sample on every save."""
    build = partial(_locked_row, skip_locked=skip_locked, no_key=no_key)
    key = f"sample_locked:{skip_locked}:{no_key}"
    found = instances(key=key, build=build, values={"pk": pk})
    return _with_dataset(found[0]) if found else None


def _with_dataset(sample: Sample) -> Sample:
    """The sample with its dataset and taxonomy, read once a request (review.request_memo)."""
    pk = sample.dataset_id
    sample.dataset = remembered(("dataset_with_taxonomy", pk), partial(_dataset_with_taxonomy, pk))
    return sample


def _dataset_with_taxonomy(pk: int) -> Dataset:
    (dataset,) = instances(key="dataset_row", build=_dataset_row, values={"pk": pk})
    (dataset.taxonomy,) = instances(
        key="taxonomy_row", build=_taxonomy_row, values={"pk": dataset.taxonomy_id}
    )
    return dataset


def _sample_row(*, pk: int) -> QuerySet[Sample]:
    return Sample.objects.defer("des").filter(pk=pk)


def _locked_row(*, pk: int, skip_locked: bool, no_key: bool) -> QuerySet[Sample]:
    # of=("self",): only the sample's row, never its dataset's (answers in one dataset must
    # not wait for each other).
    rows = Sample.objects.select_for_update(skip_locked=skip_locked, no_key=no_key, of=("self",))
    return rows.defer("des").filter(pk=pk)


def _dataset_row(*, pk: int) -> QuerySet[Dataset]:
    return Dataset.objects.filter(pk=pk)


def _taxonomy_row(*, pk: int) -> QuerySet[Taxonomy]:
    return Taxonomy.objects.filter(pk=pk)


def _proposals(*, sample_id: int) -> QuerySet[Proposal]:
    return Proposal.objects.filter(sample_id=sample_id).order_by("model_name")


def _regions(*, sample_id: int) -> QuerySet[Region]:
    return Region.objects.filter(sample_id=sample_id).order_by("role", "id")


def latest_critic_verdict(*, sample: Sample) -> CriticVerdict | None:
    found = instances(key="latest_verdict", build=_latest_verdict, values={"sample_id": sample.pk})
    return found[0] if found else None


def _latest_verdict(*, sample_id: int) -> QuerySet[CriticVerdict]:
    return CriticVerdict.objects.filter(sample_id=sample_id).order_by("-created_at", "-id")[:1]


def current_adjudication(*, sample: Sample) -> Adjudication | None:
    """The sample's final label: its highest version that is not reverted, with its author.
    Prepared statements (every sample page asks): one when there is none, two when there is."""
    found = instances(key="current_label", build=_current_label, values={"sample_id": sample.pk})
    if not found:
        return None
    label = found[0]
    if label.annotator_id is not None:
        label.annotator = user_by_id(pk=label.annotator_id)
    return label


def _current_label(*, sample_id: int) -> QuerySet[Adjudication]:
    return Adjudication.objects.filter(sample_id=sample_id, reverted=False).order_by("-version")[:1]


def next_label_version(*, sample: Sample) -> int:
    """The version a save writes: one above the highest, reverted versions included (an undone
    version 1 leaves the next save version 2)."""
    highest = Adjudication.objects.filter(sample=sample).aggregate(v=Max("version"))["v"]
    return (highest or 0) + 1


def adjudication_versions(*, sample: Sample) -> list[Adjudication]:
    """Every version of the final label, newest first, reverted ones included."""
    return list(
        Adjudication.objects.filter(sample=sample).select_related("annotator").order_by("-version")
    )


def sample_answers(*, sample: Sample) -> list[Annotation]:
    """Everyone's answers on the sample, oldest first (for adjudicators and auditors only)."""
    return list(
        Annotation.objects.filter(sample=sample)
        .select_related("annotator")
        .order_by("created_at", "id")
    )


def own_answer(*, sample: Sample, user: Any) -> Annotation | None:
    values = {"sample_id": sample.pk, "user_id": user.pk}
    found = instances(key="own_answer", build=_own_answer, values=values)
    return found[0] if found else None


def _own_answer(*, sample_id: int, user_id: int) -> QuerySet[Annotation]:
    return Annotation.objects.filter(sample_id=sample_id, annotator_id=user_id).order_by("pk")[:1]


def draft_for(*, sample: Sample, user: Any) -> Draft | None:
    values = {"sample_id": sample.pk, "user_id": user.pk}
    found = instances(key="draft_for", build=_draft_for, values=values)
    return found[0] if found else None


def _draft_for(*, sample_id: int, user_id: int) -> QuerySet[Draft]:
    return Draft.objects.filter(sample_id=sample_id, author_id=user_id).order_by("pk")[:1]


def sample_image_path(*, sample: Sample) -> Path | None:
    """The image file under the dataset's images_root; None if missing or outside the root."""
    if not sample.dataset.images_root or not sample.image_path:
        return None
    root = Path(sample.dataset.images_root).resolve()
    path = (root / sample.image_path).resolve()  # resolve() follows ".." and symlinks
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class Cell:
    value: str
    differs: bool


@dataclass(frozen=True)
class ComparisonRow:
    field: str
    label: str
    cells: list[Cell]
    differs: bool


def _display(proposal: Proposal, field: str) -> str:
    value = getattr(proposal, field)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def proposal_comparison(*, proposals: Sequence[Proposal]) -> list[ComparisonRow]:
    """One row per compared field, one cell per proposal, with disagreements marked.

    Blank values (a classifier has no description or triplet) neither disagree nor get marked.
    In a row where the models disagree, a cell is marked unless its value is the row's single
    most common one; so with three models the odd one out stands out, with two both do.
    """
    rows = []
    for field, label in COMPARED_FIELDS:
        values = [_display(p, field) for p in proposals]
        keys = [v.strip().casefold() for v in values]
        ranked = Counter(k for k in keys if k).most_common()
        differs = len(ranked) > 1
        mode = ranked[0][0] if differs and ranked[0][1] > ranked[1][1] else None
        cells = [
            Cell(v, differs and bool(k) and k != mode) for v, k in zip(values, keys, strict=True)
        ]
        rows.append(ComparisonRow(field, label, cells, differs))
    return rows


def model_weight(*, sample: Sample, model_name: str) -> float:
    weights = sample.dataset.model_weights or {}
    return float(weights.get(model_name, DEFAULT_WEIGHT))


def adjudication_draft(*, sample: Sample, proposals: Sequence[Proposal]) -> dict[str, object]:
    """Form initial values from the weighted vote.

    Emotion: the sample's suggestion, none when the models tie. Confidence: the mean
    confidence of the proposals naming it, rounded to the form's step.
    Triplet: from the best-weighted model that named it and gave a triplet (a classifier gives
    none); ties go to the model name first in order.
    """
    # On a tie the suggestion is only the first name in order: picking it for the person
    # would anchor them on a coin toss, so the form starts empty.
    emotion = "" if sample.vote_margin == 0 else sample.suggested_emotion
    backing = [p for p in proposals if emotion and p.emotion == emotion]
    draft: dict[str, object] = {"emotion": emotion}
    confidences = [p.confidence for p in backing if p.confidence is not None]
    if confidences:
        # On the input's step: a browser refuses to submit 7.3 into a step-0.5 field.
        draft["confidence"] = round_to_step(sum(confidences) / len(confidences))
    if backing:
        best = min(
            backing,
            key=lambda p: (
                not (p.background or p.attribute or p.subject),
                -model_weight(sample=sample, model_name=p.model_name),
                p.model_name,
            ),
        )
        draft.update(background=best.background, attribute=best.attribute, subject=best.subject)
    return draft


ROLE_ORDER = [role.value for role in Region.Role]
LABEL_NEAR_PCT = 12.0


@dataclass(frozen=True)
class Box:
    """A box in image pixels (for the SVG overlay) and as percentages (for HTML labels)."""

    role: str
    phrase: str
    x: float
    y: float
    width: float
    height: float
    left_pct: float
    top_pct: float
    bottom_pct: float
    stack: int = 0  # how many labels of nearby boxes sit where this one's would


def box_legend(*, boxes: Sequence[Box]) -> list[tuple[str, str, list[str]]]:
    """(role, label, phrases) for each role: each phrase once, in order, with its count when
    boxes share it ("rocket (2 boxes)", not "rocket, rocket")."""
    legend = []
    for role, label in Region.Role.choices:
        counts = Counter(b.phrase for b in boxes if b.role == role)
        phrases = [p if n == 1 else f"{p} ({n} boxes)" for p, n in counts.items()]
        legend.append((role, label, phrases))
    return legend


def region_boxes(*, regions: Sequence[Region], width: int, height: int) -> list[Box]:
    """Boxes to draw, clipped to the image, background first so subjects end up on top."""
    boxes = []
    for region in sorted(regions, key=lambda r: (ROLE_ORDER.index(r.role), r.pk or 0)):
        box = region.box
        if box is None:
            continue
        x1, x2 = (min(max(v, 0.0), width) for v in sorted((box[0], box[2])))
        y1, y2 = (min(max(v, 0.0), height) for v in sorted((box[1], box[3])))
        left, top = round(100 * x1 / width, 3), round(100 * y1 / height, 3)
        bottom = round(100 - 100 * y2 / height, 3)
        boxes.append(Box(region.role, region.phrase, x1, y1, x2 - x1, y2 - y1, left, top, bottom))
    return _stack_labels(boxes)


def _stack_labels(boxes: list[Box]) -> list[Box]:
    """Give boxes of one role whose corners nearly coincide successive label rows."""
    stacked: list[Box] = []
    for box in boxes:
        near = sum(
            1
            for other in stacked
            if other.role == box.role
            and abs(other.left_pct - box.left_pct) < LABEL_NEAR_PCT
            and abs(_label_row(other) - _label_row(box)) < LABEL_NEAR_PCT
        )
        stacked.append(replace(box, stack=near))
    return stacked


def _label_row(box: Box) -> float:
    # Background labels hang from the box's bottom edge, the others from its top (template).
    return box.bottom_pct if box.role == Region.Role.BACKGROUND else box.top_pct


def describe_dispute_reasons(*, reasons: Sequence[object]) -> list[str]:
    """Readable lines for the stored reasons, e.g. "Label mismatch: gpt-4o → awe, qwen → fear"."""
    lines = []
    for reason in reasons:
        if not isinstance(reason, dict):
            lines.append(str(reason))
            continue
        title = str(reason.get("type", "reason")).replace("_", " ").capitalize()
        parts = []
        for key, value in reason.items():
            if key == "type":
                continue
            if isinstance(value, dict):
                parts.append(", ".join(f"{k} → {v}" for k, v in value.items()))
            else:
                parts.append(f"{key}: {value}")
        lines.append(f"{title}: {'; '.join(parts)}" if parts else title)
    return lines
