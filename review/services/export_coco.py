"""COCO instance segmentation export: the B-A-S regions of each image as annotations.

One JSON object, written as it is read: the header (info, licenses, categories), then `images`
in one pass over the export's batches, then `annotations` in a second pass, both inside one
snapshot, so memory holds one batch whatever the dataset's size. Each image and annotation is
on its own line (still one JSON document) so the file can be read and diffed by eye.

- images: id = the sample's id, file_name = image_path (relative to the dataset's images
  root), width, height, license, and the label (emotion, confidence, status, source,
  external_id, decided_by, content_hash) and its soft labels (label_source, posterior as
  {label: probability}, posterior_entropy; null without a fit).
- categories: the B-A-S roles with fixed ids (CATEGORY_IDS), supercategory "B-A-S".
- annotations: one per region with a box or mask and per person-accepted mask.
  segmentation is the stored COCO RLE (compressed `counts` string, as pycocotools writes
  it) when there is a mask, else the box as a polygon; bbox [x, y, w, h] is the tight box
  around the mask (COCO's convention, pycocotools' toBbox) or the region's box; area is the
  mask's pixel count or the box's w*h; iscrowd 0; plus phrase (the region's, else the final
  label's for that role), origin, model_name, segmenter, score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from annotator.lib.rle import mask_area, mask_bbox
from annotator.models import Dataset, Region
from review.selectors.export import export_model_names
from review.selectors.snapshot import consistent_snapshot
from review.services.export_formats import ExportChunk, ExportOptions
from review.services.export_jsonl import region_phrase
from review.services.export_posterior import (
    EXTRA_POSTERIOR,
    LABEL_FROM_CONSENSUS,
    LABEL_SOURCE,
    POSTERIOR_ENTROPY,
    SoftLabels,
    posterior_mapping,
    soft_labels_for,
)
from review.services.export_rows import EXTRA_CONTENT_HASH, EXTRA_REGIONS, iter_export_batches_for

COCO_FORMAT_VERSION = "1.0"
SUPERCATEGORY = "B-A-S"
CATEGORY_IDS = {
    Region.Role.BACKGROUND.value: 1,
    Region.Role.ATTRIBUTE.value: 2,
    Region.Role.SUBJECT.value: 3,
}
LICENSE_ID = 1
IMAGE_LABEL_KEYS = ("emotion", "confidence", "status", "source", "external_id", "decided_by")


def iter_coco_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The COCO file as chunks (review.services.export_formats.ChunkWriter): the header, one
    chunk per batch of images (0 rows: a sample is complete only once its annotations are
    out), one per batch of annotations (its samples), the closing bytes."""
    with consistent_snapshot():
        model_names = export_model_names(dataset=dataset)
        soft = soft_labels_for(dataset=dataset, label_from=options.label_from)

        def batches(soft: SoftLabels) -> Iterator[list[dict[str, Any]]]:
            return iter_export_batches_for(
                dataset=dataset, scope=scope, model_names=model_names, soft=soft
            )

        header = coco_header(dataset=dataset, scope=scope, now=datetime.now(UTC))
        yield ExportChunk(header[:-1] + b',"images":[', 0)  # the header object, left open
        first = True
        for rows in batches(soft):
            data = _items([image_entry(row, labels=soft.labels) for row in rows], first=first)
            first = first and not data
            yield ExportChunk(data, 0)
        yield ExportChunk(b'\n],"annotations":[', 0)
        # The annotations need no posteriors (a consensus label only, for its phrases).
        second = soft if soft.label_from == LABEL_FROM_CONSENSUS else replace(soft, fit=None)
        yield from _annotation_chunks(batches(second))
        yield ExportChunk(b"\n]}\n", 0)


def _annotation_chunks(batches: Iterator[list[dict[str, Any]]]) -> Iterator[ExportChunk]:
    """One chunk per batch; annotation ids count from 1 in export order."""
    first, next_id = True, 1
    for rows in batches:
        annotations = []
        for row in rows:
            for region in row[EXTRA_REGIONS]:
                phrase = region_phrase(region, row)
                annotations.append(
                    annotation_entry(
                        region, image_id=row["sample_id"], ann_id=next_id, phrase=phrase
                    )
                )
                next_id += 1
        data = _items(annotations, first=first)
        first = first and not data
        yield ExportChunk(data, len(rows))


def _items(entries: Sequence[dict[str, object]], *, first: bool) -> bytes:
    """Array items, one per line, with the comma before each but the array's first."""
    if not entries:
        return b""
    lines = b",\n".join(orjson.dumps(entry) for entry in entries)
    return (b"\n" if first else b",\n") + lines


def coco_header(*, dataset: Dataset, scope: str, now: datetime) -> bytes:
    """The object's first keys, closed: info, licenses, categories."""
    return orjson.dumps({
        "info": {
            "description": f"{dataset.name}: {scope} labels exported by EmoReview "
            f"(taxonomy {dataset.taxonomy.name}; B-A-S regions as instances)",
            "version": COCO_FORMAT_VERSION,
            "year": now.year,
            "date_created": now.isoformat(timespec="seconds"),
            "contributor": dataset.attribution,
            "url": "",
            "dataset": dataset.name,
            "scope": scope,
            "taxonomy": dataset.taxonomy.name,
            "emotions": list(dataset.taxonomy.labels),
        },
        "licenses": [{
            "id": LICENSE_ID,
            "name": dataset.licence,
            "url": "",
            "attribution": dataset.attribution,
        }],
        "categories": [
            {"id": pk, "name": role, "supercategory": SUPERCATEGORY}
            for role, pk in CATEGORY_IDS.items()
        ],
    })  # fmt: skip


def image_entry(row: dict[str, Any], *, labels: Sequence[str] = ()) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": row["sample_id"],
        "file_name": row["image_path"],
        "width": row["width"],
        "height": row["height"],
        "license": LICENSE_ID,
    }
    entry.update((key, row[key]) for key in IMAGE_LABEL_KEYS)
    entry["content_hash"] = row[EXTRA_CONTENT_HASH] or None
    # Soft labels (export_posterior): null without a fit, as every other label key.
    entry[LABEL_SOURCE] = row[LABEL_SOURCE]
    entry[EXTRA_POSTERIOR] = posterior_mapping(row, labels)
    entry[POSTERIOR_ENTROPY] = row[POSTERIOR_ENTROPY]
    return entry


def annotation_entry(
    region: dict[str, Any], *, image_id: int, ann_id: int, phrase: str
) -> dict[str, object]:
    """One region (export_rows.region_entries) as a COCO annotation."""
    x1, y1, x2, y2 = (float(v) for v in region["box"])
    rle = region.get("mask")
    if rle:
        x, y, w, h = mask_bbox(rle)
        area = float(mask_area(rle))
        bbox = [float(x), float(y), float(w), float(h)] if area else [x1, y1, x2 - x1, y2 - y1]
        segmentation: object = {"size": list(rle["size"]), "counts": rle["counts"]}
    else:
        bbox = [x1, y1, x2 - x1, y2 - y1]
        area = bbox[2] * bbox[3]
        segmentation = [[x1, y1, x2, y1, x2, y2, x1, y2]]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": CATEGORY_IDS[region["role"]],
        "segmentation": segmentation,
        "area": area,
        "bbox": bbox,
        "iscrowd": 0,
        "phrase": phrase,
        "origin": region["origin"],
        "model_name": region.get("model_name") or None,
        "segmenter": region.get("segmenter") or None,
        "score": region.get("score"),
    }
