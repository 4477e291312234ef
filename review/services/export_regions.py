"""The grounded B-A-S elements of an export row: each boxed region and each mask a person
accepted, as the CSV's bbox column and the richer formats' region entries."""

from __future__ import annotations

import json
from collections.abc import Sequence

from annotator.lib.rle import mask_bbox
from review.selectors.export import MaskRow, RegionRow


def bbox_json(regions: Sequence[RegionRow], masks: Sequence[MaskRow] = ()) -> str:
    """The grounded B-A-S elements as JSON (the CSV's bbox column): region_entries without
    the origin and model of machine regions, as the column always was."""
    entries = region_entries(regions, masks)
    for entry in entries:
        if entry.get("origin") != "person":
            entry.pop("origin", None)
            entry.pop("model_name", None)
            entry.pop("score", None)
    return json.dumps(entries, ensure_ascii=False, separators=(",", ":"))


def region_entries(
    regions: Sequence[RegionRow], masks: Sequence[MaskRow] = ()
) -> list[dict[str, object]]:
    """The grounded B-A-S elements, one entry per boxed region and per accepted mask.

    A boxed region: {"role", "phrase", "box": [x1, y1, x2, y2], "origin", "model_name",
    "score"}, plus "mask" (COCO RLE {"size": [h, w], "counts": str}) and "segmenter" when it
    has a mask. A mask a person accepted: {"role", "phrase", "box" (around the mask), "mask",
    "segmenter", "score", "origin": "person"}.
    """
    entries: list[dict[str, object]] = []
    for r in regions:
        entry: dict[str, object] = {
            "role": r.role,
            "phrase": r.phrase,
            "box": [r.x1, r.y1, r.x2, r.y2],
            "origin": r.origin,
            "model_name": r.model_name,
            "score": r.score,
        }
        if r.mask:
            entry.update(mask=r.mask, segmenter=r.segmenter)
        entries.append(entry)
    phrases = {r.role: r.phrase for r in reversed(regions) if r.phrase}
    for m in masks:
        chosen = m.candidates[m.chosen]
        x, y, w, h = mask_bbox(chosen["rle"])
        entries.append({
            "role": m.role,
            "phrase": phrases.get(m.role, ""),
            "box": [float(x), float(y), float(x + w), float(y + h)],
            "mask": chosen["rle"],
            "segmenter": m.segmenter,
            "score": chosen["score"],
            "origin": "person",
        })  # fmt: skip
    return entries
