"""The ground stage: boxes for the triplet's phrases, then a mask for each box.

With Grounding DINO configured, the subject and background phrases of every proposal are
detected (best box per phrase above the config's thresholds) and become Region rows of origin
"model". Without it, the boxes the sample already has are masked instead: imported boxes (in
place) and the boxes the annotators gave in their replies (as model regions). Masks come from the
configured segmenter (SAM, or GrabCut without weights) prompted with the box, as COCO RLE.
The stage owns the sample's model-origin regions: running it again replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from annotator.adapters.segmenters.working_copy import WorkImage, load_work_image
from annotator.models import Proposal, Region
from annotator.pipeline.runs.context import Computed, RoundUnits, UnitContext, image_file
from annotator.pipeline.runs.units import GROUNDING_DINO, UnitRef

Box = tuple[float, float, float, float]


@dataclass
class Target:
    role: str
    phrase: str
    box: Box
    model_name: str
    score: float | None = None
    region_id: int | None = None  # an imported region to mask in place
    mask: dict[str, Any] | None = None


def ground(ctx: UnitContext) -> Computed:
    from annotator.adapters.grounding import get_grounder
    from annotator.adapters.segmenters import get_segmenter

    work = _load_work_image(ctx)
    grounder = get_grounder(ctx.config.grounding)
    if grounder is not None:
        targets = _detected(grounder, work, _phrases(ctx.unit.sample_id))
    else:
        targets = _existing_boxes(ctx.unit.sample_id)
    clamped = (_clamped(t, work.width, work.height) for t in targets)
    targets = [t for t in clamped if t is not None]
    segmenter = get_segmenter()
    _mask(targets, work=work, image_key=ctx.sample.content_hash, segmenter=segmenter)
    sample_id, name = ctx.unit.sample_id, segmenter.name

    def write(round_units: RoundUnits) -> list[UnitRef]:
        _store(sample_id, targets, segmenter=name)
        return []

    output = {
        "grounder": GROUNDING_DINO if grounder is not None else "boxes",
        "segmenter": name,
        "regions": [{"role": t.role, "phrase": t.phrase, "box": list(t.box)} for t in targets],
    }
    return Computed(output=output, write=write)


def _load_work_image(ctx: UnitContext) -> WorkImage:
    """The bounded working copy (MASK_WORK_MAX_SIDE) detection and segmentation run on; boxes
    stay in image pixels. Stored pixel size, no EXIF rotation: the frame imported boxes are in."""
    return load_work_image(image_file(ctx.sample), max_side=settings.MASK_WORK_MAX_SIDE)


def _phrases(sample_id: int) -> dict[str, str]:
    """{phrase (lower-case): role} from the proposals' subjects first, then backgrounds."""
    rows = list(
        Proposal.objects.filter(sample_id=sample_id)
        .order_by("model_name")
        .values_list("subject", "background")
    )
    phrases: dict[str, str] = {}
    for index, role in ((0, Region.Role.SUBJECT), (1, Region.Role.BACKGROUND)):
        for row in rows:
            phrase = row[index].strip().lower()
            if phrase:
                phrases.setdefault(phrase, str(role))
    return phrases


def _detected(grounder: Any, work: WorkImage, phrases: dict[str, str]) -> list[Target]:
    from annotator.adapters.grounding import best_per_phrase

    if not phrases:
        return []
    best = best_per_phrase(grounder.detect(image=work.pixels, phrases=list(phrases)))
    fx, fy = work.factors  # detected on the working copy: boxes back in image pixels
    return [
        Target(phrases[phrase], phrase, (x1 / fx, y1 / fy, x2 / fx, y2 / fy), GROUNDING_DINO,
               score=d.score)
        for phrase, d in best.items()
        if phrase in phrases
        for x1, y1, x2, y2 in [d.box]
    ]  # fmt: skip


def _existing_boxes(sample_id: int) -> list[Target]:
    """Imported boxes without a mask, and the boxes in the annotators' replies."""
    targets = [
        Target(role, phrase, cast(Box, (x1, y1, x2, y2)), model_name, region_id=pk)
        for pk, role, phrase, x1, y1, x2, y2, model_name in Region.objects.filter(
            sample_id=sample_id, origin=Region.Origin.IMPORT, mask__isnull=True, x1__isnull=False
        )
        .order_by("id")
        .values_list("id", "role", "phrase", "x1", "y1", "x2", "y2", "model_name")
    ]
    for model_name, background, raw in (
        Proposal.objects.filter(sample_id=sample_id)
        .order_by("model_name")
        .values_list("model_name", "background", "raw")
    ):
        for item in (raw or {}).get("boxes") or []:
            phrase, box = str(item.get("phrase", "")), item.get("box")
            if not isinstance(box, list) or len(box) != 4:
                continue
            is_background = phrase.strip().lower() == background.strip().lower()
            role = Region.Role.BACKGROUND if is_background else Region.Role.SUBJECT
            targets.append(Target(str(role), phrase, tuple(map(float, box)), model_name))  # type: ignore[arg-type]
    return targets


def _clamped(target: Target, width: int, height: int) -> Target | None:
    x1, y1, x2, y2 = target.box
    x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
    y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None  # nothing left to mask
    target.box = (x1, y1, x2, y2)
    return target


def _mask(targets: list[Target], *, work: WorkImage, image_key: str, segmenter: Any) -> None:
    from annotator.adapters.segmenters import Prompt

    for target in targets:
        candidates = segmenter.segment(
            image=work.pixels,
            image_key=work.key(image_key),
            prompt=work.prompt_in(Prompt(box=target.box)),
            multimask=False,
        )
        if candidates:
            target.mask = work.encode(candidates[0].mask)  # at the image's own size
            if target.score is None:
                target.score = round(float(candidates[0].score), 6)


def _store(sample_id: int, targets: list[Target], *, segmenter: str) -> None:
    Region.objects.filter(sample_id=sample_id, origin=Region.Origin.MODEL).delete()
    now = timezone.now()
    Region.objects.bulk_create(
        Region(
            sample_id=sample_id, role=t.role, phrase=t.phrase[:300],
            x1=t.box[0], y1=t.box[1], x2=t.box[2], y2=t.box[3], mask=t.mask,
            origin=Region.Origin.MODEL, model_name=t.model_name, segmenter=segmenter,
            score=t.score,
        )
        for t in targets
        if t.region_id is None
    )  # fmt: skip
    for t in targets:
        if t.region_id is not None and t.mask is not None:
            Region.objects.filter(pk=t.region_id).update(
                mask=t.mask, segmenter=segmenter, updated_at=now
            )
