"""EmoVerse JSON Lines export: one record per sample, in the shape `import_samples` reads.

The round trip (docs/formats.md, "EmoVerse JSON Lines"): export --scope decided, import the
file into a new dataset, export again: the two files are byte-identical. What makes it hold:

- a decided sample is a plain EmoVerse record (one annotation: the final label). Re-imported,
  the label becomes the one proposal of a sample the vote calls agreed, whose exported label
  is that proposal again (same emotion, confidence, triplet, description);
- the workflow around the label (adjudicated or agreed, who decided, the critic) is not
  written: no import can reproduce it, an import never makes a person's decision;
- boxes without a mask go to `bbox` (re-imported as box regions), regions with a mask to
  `masks` (re-imported as mask regions, each with its box), so neither list grows;
- each DES value is written as the shortest decimal that reads back as the same float32
  (orjson's float32 output); the importer's conversion (JSON double, then struct "<f") gives
  the same 4 bytes again (a test checks a million bit patterns across every exponent; a
  one-off run checked 268M, a sixteenth of all float32 values, and none differed).

Label-less samples (--scope all: disputed, pending, dropped) are written as image-only records
with their `status` (and the critic's drop, which a re-import applies): they re-import as
pending (dropped with the drop); a disputed sample's proposals are not in the record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson

from annotator.models import CriticVerdict, Dataset
from review.selectors.export import VerdictRow, export_model_names
from review.selectors.snapshot import consistent_snapshot
from review.services.export_formats import ExportChunk, ExportOptions
from review.services.export_posterior import (
    EXTRA_POSTERIOR,
    LABEL_SOURCE,
    POSTERIOR_ENTROPY,
    posterior_mapping,
    soft_labels_for,
)
from review.services.export_rows import (
    DES_COLUMN,
    EXTRA_CRITIC,
    EXTRA_REGIONS,
    TRIPLET_COLUMNS,
    iter_export_batches_for,
)

CHUNK_RECORDS = 256
BAS_KEY = "B-A-S"
BAS_SEPARATOR = " - "
# numpy float32 arrays written value by value as the shortest float32 decimal (Ryu).
_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def iter_jsonl_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The JSONL export in chunks of at most CHUNK_RECORDS records
    (review.services.export_formats.ChunkWriter)."""
    with consistent_snapshot():
        model_names = export_model_names(dataset=dataset)
        soft = soft_labels_for(dataset=dataset, label_from=options.label_from)
        labels = soft.labels if soft.fit is not None else None
        for rows in iter_export_batches_for(
            dataset=dataset, scope=scope, model_names=model_names, with_des=True, soft=soft
        ):
            # A record with DES is ~12 KB of text: a batch's worth is yielded in slices, so
            # the text held at once stays small whatever EXPORT_BATCH_SIZE is.
            for start in range(0, len(rows), CHUNK_RECORDS):
                part = rows[start : start + CHUNK_RECORDS]
                lines = (record_line(with_soft_labels(jsonl_record(r), r, labels)) for r in part)
                yield ExportChunk(b"".join(lines), len(part))


def with_soft_labels(
    record: dict[str, object], row: dict[str, Any], labels: Sequence[str] | None
) -> dict[str, object]:
    """The record with the soft labels last, when the dataset has a fit (`labels` not None):
    `posterior` ({label: probability} in the taxonomy's order, or null), `posterior_entropy`
    and `label_source`. Without a fit none of the keys is written, so a file re-imported
    into a new dataset (which has no fit) exports byte for byte as before."""
    if labels is None:
        return record
    record[EXTRA_POSTERIOR] = posterior_mapping(row, labels)
    record[POSTERIOR_ENTROPY] = row[POSTERIOR_ENTROPY]
    record[LABEL_SOURCE] = row[LABEL_SOURCE]
    return record


def record_line(record: dict[str, object]) -> bytes:
    """One record as a UTF-8 JSON line (compact, non-ASCII as it is, DES as float32)."""
    return orjson.dumps(record, option=_ORJSON_OPTIONS)


def jsonl_record(row: dict[str, Any]) -> dict[str, object]:
    """One export row as an EmoVerse record (the module docstring says which shape when)."""
    record: dict[str, object] = {
        "id": row["external_id"],
        "image_path": row["image_path"],
        "source": row["source"],
    }
    des = row.get(DES_COLUMN)
    if row["emotion"] is None:
        record["status"] = row["status"]
        record["DES"] = des_array(des) if des is not None else None
        critic = _drop_verdict(row[EXTRA_CRITIC])
        if critic is not None:
            record["critic"] = critic
        return record
    triplet = [row[key] for key in TRIPLET_COLUMNS]
    record.update(
        description=row["description"],
        emotion=row["emotion"],
        confidence=row["confidence"],
        background=triplet[0],
        attribute=triplet[1],
        subject=triplet[2],
    )
    # Only a full triplet: the importer splits the string when a field is empty, and a part
    # missing from it would be an error there.
    record[BAS_KEY] = BAS_SEPARATOR.join(triplet) if all(triplet) else None
    record["DES"] = des_array(des) if des is not None else None
    record["bbox"], record["masks"] = boxes_and_masks(row)
    return record


def boxes_and_masks(
    row: dict[str, Any],
) -> tuple[list[dict[str, float]], list[dict[str, object]]]:
    """(`bbox`, `masks`): boxes of the row's regions without a mask as {x1, y1, x2, y2}, and
    the regions with one (machine or person) as {role, phrase, box, mask}, in export order."""
    boxes: list[dict[str, float]] = []
    masks: list[dict[str, object]] = []
    for region in row[EXTRA_REGIONS]:
        x1, y1, x2, y2 = (float(v) for v in region["box"])
        if region.get("mask"):
            masks.append({
                "role": region["role"],
                "phrase": region_phrase(region, row),
                "box": [x1, y1, x2, y2],
                "mask": {"size": list(region["mask"]["size"]), "counts": region["mask"]["counts"]},
            })  # fmt: skip
        else:
            boxes.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2})
    return boxes, masks


def region_phrase(region: dict[str, Any], row: dict[str, Any]) -> str:
    """The region's phrase, else the final label's phrase for its role: a person's mask of an
    element carries no phrase of its own when no machine region named that element."""
    return str(region["phrase"] or row.get(region["role"]) or "")


def _drop_verdict(verdict: VerdictRow | None) -> dict[str, object] | None:
    """The critic's latest verdict when it dropped the sample, as the importer reads it."""
    if verdict is None or verdict.verdict != CriticVerdict.Verdict.DROP:
        return None
    return {
        "verdict": verdict.verdict,
        "emotion": verdict.emotion or None,
        "reasoning": verdict.reasoning or None,
        "instructions": verdict.instructions or None,
        "model": verdict.model_name,
    }


def des_array(raw: bytes) -> np.ndarray:
    """The stored DES bytes as the float32 array orjson writes value by value."""
    return np.frombuffer(raw, dtype="<f4")
