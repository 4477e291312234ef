"""One Label Studio task per export row: data (image, critic, meta), one prediction per model,
one annotation per person. Control names are the labeling config's (labelstudio_config).

Boxes are percent of the image size, as Label Studio stores them; masks are its brush RLE of the
full image (review.services.labelstudio_rle). A result's id is unique within its prediction or
annotation, so each box and each mask is a region of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from review.selectors.export import ProposalRow, VerdictRow
from review.selectors.export_labelstudio import AnswerRow, PersonMaskRow, person_email
from review.services.export_posterior import (
    EXTRA_POSTERIOR,
    LABEL_SOURCE,
    POSTERIOR_ENTROPY,
    SoftLabels,
    posterior_mapping,
)
from review.services.export_rows import (
    EXTRA_CONTENT_HASH,
    EXTRA_CRITIC,
    EXTRA_HEIGHT,
    EXTRA_NOTES,
    EXTRA_PROPOSALS,
    EXTRA_REGIONS,
    EXTRA_WIDTH,
)
from review.services.labelstudio_config import (
    BOX,
    CONFIDENCE,
    DESCRIPTION,
    EMOTION,
    IMAGE,
    MASK,
    NOTES,
    TRIPLET,
    VALUE,
)
from review.services.labelstudio_rle import brush_rle_from_coco

LOCAL_FILES_PREFIX = "/data/local-files/?d="
PERSON_ORIGIN = "person"
CONSENSUS_VERSION = "consensus"  # model_version of the latent-class model's prediction
REGIONS_WITHOUT_MODEL = "import"  # model_version of boxes a file brought without a model name

Result = dict[str, Any]


def local_files_url(image_path: str, *, images_root: str) -> str:
    """The image as Label Studio's local-files view serves it: a path relative to its
    LOCAL_FILES_DOCUMENT_ROOT, set to the folder that holds the images root, so the path starts
    with the root's own name (Label Studio refuses a storage at the document root itself; the
    project's Local Files storage is the images root). An absolute image path stays absolute
    (under a document root of /)."""
    if image_path.startswith("/") or not images_root:
        relative = image_path.lstrip("/")
    else:
        relative = f"{PurePosixPath(images_root).name}/{image_path}"
    return LOCAL_FILES_PREFIX + quote(relative, safe="/")


def labelstudio_task(
    *,
    row: Mapping[str, Any],
    answers: Sequence[AnswerRow],
    person_masks: Mapping[int, Sequence[PersonMaskRow]],
    decider_email: str | None,
    emoreview_image_url: str,
    images_root: str,
    soft: SoftLabels | None = None,
) -> dict[str, Any]:
    size = (int(row[EXTRA_WIDTH] or 0), int(row[EXTRA_HEIGHT] or 0))
    annotations = _annotations(
        row=row, answers=answers, person_masks=person_masks, decider_email=decider_email, size=size
    )
    meta = _meta(row=row, answers=answers, emoreview_image_url=emoreview_image_url)
    predictions = _predictions(row=row, size=size)
    if soft is not None:
        meta.update(_soft_meta(row=row, soft=soft))
        predictions += _consensus_prediction(row=row, soft=soft)
    return {
        "data": {
            IMAGE: local_files_url(str(row["image_path"]), images_root=images_root),
            "critic": _critic_text(row[EXTRA_CRITIC]),
            "meta": meta,
        },
        "predictions": predictions,
        "annotations": annotations,
    }


def _soft_meta(*, row: Mapping[str, Any], soft: SoftLabels) -> dict[str, Any]:
    """The soft labels (export_posterior) beside the label: null without a fit."""
    return {
        LABEL_SOURCE: row[LABEL_SOURCE],
        EXTRA_POSTERIOR: posterior_mapping(row, soft.labels),
        POSTERIOR_ENTROPY: row[POSTERIOR_ENTROPY],
    }


def _consensus_prediction(*, row: Mapping[str, Any], soft: SoftLabels) -> list[dict[str, Any]]:
    """The latent-class model as one more rater: its most probable emotion, scored with its
    probability (Label Studio sorts and filters predictions by score); none without one."""
    posterior = posterior_mapping(row, soft.labels)
    if not posterior or soft.fit is None:
        return []
    label, p_label = max(posterior.items(), key=lambda item: item[1])
    result = label_results(emotion=label, confidence=None, triplet=(None, None, None))
    return [{"model_version": f"{CONSENSUS_VERSION}:{soft.fit.method}", "score": p_label,
             "result": result}]  # fmt: skip


def _meta(
    *, row: Mapping[str, Any], answers: Sequence[AnswerRow], emoreview_image_url: str
) -> dict[str, Any]:
    """What identifies the sample and its label; `annotations` names, in order, whose each
    annotation is (Label Studio maps completed_by to its own users)."""
    people = []
    if row["status"] == "adjudicated" and row["emotion"]:
        people.append({"kind": "final", "who": row["annotator"], "decided_by": row["decided_by"]})
    people += [{"kind": "answer", "who": a.username, "source": a.source} for a in answers]
    return {
        "sample_id": row["sample_id"],
        "external_id": row["external_id"],
        "status": row["status"],
        "source": row["source"],
        "image_path": row["image_path"],
        "emoreview_image": emoreview_image_url,
        "width": row[EXTRA_WIDTH],
        "height": row[EXTRA_HEIGHT],
        "content_hash": row[EXTRA_CONTENT_HASH],
        "emotion": row["emotion"],
        "decided_by": row["decided_by"],
        "decided_at": _iso(row["decided_at"]),
        "annotations": people,
    }


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _critic_text(verdict: VerdictRow | None) -> str:
    """The critic's latest verdict as one line of text the task shows ("" when none)."""
    if verdict is None:
        return ""
    head = f"{verdict.verdict}" + (f" → {verdict.emotion}" if verdict.emotion else "")
    return f"{head} ({verdict.model_name}): {verdict.reasoning}".strip()


def _predictions(*, row: Mapping[str, Any], size: tuple[int, int]) -> list[dict[str, Any]]:
    """One prediction per proposing model; boxes and masks join their model's prediction, or
    one of their own per grounding model."""
    by_model: dict[str, dict[str, Any]] = {}
    proposal: ProposalRow
    for proposal in row[EXTRA_PROPOSALS]:
        prediction: dict[str, Any] = {"model_version": proposal.model_name, "result": []}
        if proposal.confidence is not None:
            prediction["score"] = min(max(proposal.confidence / 10, 0.0), 1.0)
        prediction["result"] = label_results(
            emotion=proposal.emotion,
            confidence=proposal.confidence,
            triplet=(proposal.background, proposal.attribute, proposal.subject),
            description=proposal.description,
        )
        by_model[proposal.model_name] = prediction
    for entry in row[EXTRA_REGIONS]:
        if entry.get("origin") == PERSON_ORIGIN:
            continue
        name = str(entry.get("model_name") or REGIONS_WITHOUT_MODEL)
        prediction = by_model.setdefault(name, {"model_version": name, "result": []})
        prediction["result"] += region_results(entry, size=size, n=len(prediction["result"]))
    return [p for p in by_model.values() if p["result"]]


def _annotations(
    *,
    row: Mapping[str, Any],
    answers: Sequence[AnswerRow],
    person_masks: Mapping[int, Sequence[PersonMaskRow]],
    decider_email: str | None,
    size: tuple[int, int],
) -> list[dict[str, Any]]:
    """The final label (ground truth) first, then every person's answer with their own masks."""
    annotations = []
    if row["status"] == "adjudicated" and row["emotion"]:
        final = label_results(
            emotion=row["emotion"],
            confidence=row["confidence"],
            triplet=(row["background"], row["attribute"], row["subject"]),
            description=row["description"],
            notes=row[EXTRA_NOTES],
        )
        for entry in row[EXTRA_REGIONS]:
            if entry.get("origin") == PERSON_ORIGIN:
                final += region_results(entry, size=size, n=len(final), boxes=False)
        annotations.append(_annotation(final, email=decider_email, ground_truth=True))
    for answer in answers:
        result = label_results(
            emotion=answer.emotion,
            confidence=answer.confidence,
            triplet=(answer.background, answer.attribute, answer.subject),
            notes=answer.notes,
            value=answer.value_number,
        )
        for mask in person_masks.get(answer.annotator_id, ()):
            entry = {"role": mask.role, "mask": mask.candidates[mask.chosen]["rle"]}
            result += region_results(entry, size=size, n=len(result), boxes=False)
        email = person_email(username=answer.username, email=answer.email)
        annotation = _annotation(result, email=email, ground_truth=False)
        annotation["lead_time"] = answer.time_spent_ms / 1000
        annotations.append(annotation)
    return annotations


def _annotation(result: list[Result], *, email: str | None, ground_truth: bool) -> dict[str, Any]:
    annotation: dict[str, Any] = {"result": result, "ground_truth": ground_truth}
    if email:
        annotation["completed_by"] = {"email": email}
    return annotation


def label_results(
    *,
    emotion: str | None,
    confidence: float | None,
    triplet: tuple[str | None, str | None, str | None],
    description: str | None = None,
    notes: str | None = None,
    value: float | None = None,
) -> list[Result]:
    """Whole-image results: the emotion, confidence (0-10), a numeric answer, the B-A-S
    triplet, description and notes; absent or empty ones are left out."""
    results: list[Result] = []
    if emotion:
        results.append(_whole(EMOTION, "choices", {"choices": [emotion]}))
    for name, number in ((CONFIDENCE, confidence), (VALUE, value)):
        if number is not None:
            results.append(_whole(name, "number", {"number": float(number)}))
    texts = (*zip(TRIPLET, triplet, strict=True), (DESCRIPTION, description), (NOTES, notes))
    for name, text in texts:
        if text:
            results.append(_whole(name, "textarea", {"text": [text]}))
    return results


def _whole(name: str, kind: str, value: dict[str, Any]) -> Result:
    return {"id": name, "from_name": name, "to_name": IMAGE, "type": kind, "value": value}


def region_results(
    entry: Mapping[str, Any], *, size: tuple[int, int], n: int, boxes: bool = True
) -> list[Result]:
    """A region's box (rectanglelabels, percent of the image) and mask (brushlabels)."""
    width, height = size
    role = str(entry["role"])
    results: list[Result] = []
    box = entry.get("box")
    if boxes and box is not None and width > 0 and height > 0:
        x1, y1, x2, y2 = (float(v) for v in box)
        value = {
            "x": _percent(x1, width),
            "y": _percent(y1, height),
            "width": _percent(x2, width) - _percent(x1, width),
            "height": _percent(y2, height) - _percent(y1, height),
            "rotation": 0,
            "rectanglelabels": [role],
        }
        results.append(_region(f"{BOX}-{n}", BOX, "rectanglelabels", value, (width, height)))
    mask = entry.get("mask")
    if mask:
        mask_height, mask_width = (int(v) for v in mask["size"])
        value = {"format": "rle", "rle": brush_rle_from_coco(mask), "brushlabels": [role]}
        results.append(
            _region(f"{MASK}-{n + 1}", MASK, "brushlabels", value, (mask_width, mask_height))
        )
    score = entry.get("score")
    if score is not None and 0 <= score <= 1:
        for result in results:
            result["score"] = float(score)
    return results


def _percent(value: float, whole: int) -> float:
    return min(max(value / whole * 100, 0.0), 100.0)


def _region(id_: str, name: str, kind: str, value: dict[str, Any], size: tuple[int, int]) -> Result:
    return {
        "id": id_,
        "from_name": name,
        "to_name": IMAGE,
        "type": kind,
        "value": value,
        "original_width": size[0],
        "original_height": size[1],
        "image_rotation": 0,
    }
