"""Export rows: which label each sample gets, and the columns every format shares.

Label rules (issue 2, §6; issue 5):
- adjudicated: the final label (the highest Adjudication version not reverted); decided_by is
  how it was decided: "person" (one person, k = 1), "consensus" (the k blind answers agreed;
  annotator lists them, ";"-separated) or "adjudicator" (annotator is the adjudicator).
- agreed: the models' shared emotion (Sample.suggested_emotion), mean confidence of the proposals
  that named it, triplet and description from the proposal chosen_proposal picks (one with text,
  then the highest weight, then the model name); decided_by "models"; decided_at when the
  sample's status last changed (an identical re-import does not move it).
- dropped with a latest verdict of drop: decided_by "critic", no label.
- anything else (disputed, pending): no label; the per-model emotions are still filled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from statistics import fmean

from django.conf import settings

from annotator.models import CriticVerdict, Dataset, Sample
from annotator.services.rle import mask_bbox
from review.selectors.export import (
    AdjudicationRow,
    BatchRelated,
    MaskRow,
    ProposalRow,
    RegionRow,
    SampleRow,
    batch_sample_ids,
    export_model_names,
    fetch_batch_related,
    iter_sample_batches,
)
from review.selectors.snapshot import consistent_snapshot

# How a cell is written moved to csv_cells; the names stay importable from here (audit views).
from review.services.csv_cells import FORMULA_PREFIXES as FORMULA_PREFIXES
from review.services.csv_cells import csv_value as csv_value
from review.services.csv_cells import neutralise_formula as neutralise_formula

DEFAULT_WEIGHT = 1.0
DES_COLUMN = "DES"
DES_DIMENSIONS = 1024
DES_BYTES = DES_DIMENSIONS * 4
MODEL_COLUMN_PREFIX = "emotion_"

LEADING_COLUMNS = [
    "sample_id",
    "external_id",
    "image_path",
    "source",
    "status",
    "emotion",
    "confidence",
    "background",
    "attribute",
    "subject",
    "description",
    "bbox",
    "decided_by",
    "annotator",
    "decided_at",
]
TRAILING_COLUMNS = ["critic_verdict"]
TRIPLET_COLUMNS = ("background", "attribute", "subject")
# Each model's own answer, one block of columns per field: emotion_<m> for every model, then
# confidence_<m> for every model, and so on (the emotion block stays where it always was).
PER_MODEL_FIELDS = ("emotion", "confidence", *TRIPLET_COLUMNS, "description")
CRITIC_COLUMNS = ["critic_verdict", "critic_emotion", "critic_reasoning", "critic_instructions"]
# Row keys beside the CSV columns (see _extra_fields).
EXTRA_WIDTH = "width"
EXTRA_HEIGHT = "height"
EXTRA_CONTENT_HASH = "content_hash"
EXTRA_REGIONS = "regions"  # list of dicts, as region_entries builds them
EXTRA_PROPOSALS = "proposals"  # list of ProposalRow, in id order
EXTRA_CRITIC = "critic"  # VerdictRow or None: the latest verdict
EXTRA_NOTES = "notes"  # the final label's notes (adjudicated samples), else None
EXTRA_LICENCE = "licence"  # the dataset's licence, else None
# The CSV's columns after the per-model blocks; each is a row key (critic_* from the verdict).
CSV_TRAILING_COLUMNS = [
    *CRITIC_COLUMNS,
    EXTRA_NOTES,
    EXTRA_WIDTH,
    EXTRA_HEIGHT,
    EXTRA_CONTENT_HASH,
    EXTRA_LICENCE,
]


def model_columns(model_names: Sequence[str]) -> list[str]:
    return [f"{MODEL_COLUMN_PREFIX}{name}" for name in model_names]


@lru_cache(maxsize=32)
def _per_model_keys(model_names: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(model, its row keys in PER_MODEL_FIELDS order) per model: built once per column set,
    not per row."""
    return tuple(
        (name, tuple(f"{field}_{name}" for field in PER_MODEL_FIELDS)) for name in model_names
    )


def per_model_columns(model_names: Sequence[str]) -> list[str]:
    """emotion_<m> for every model, then confidence_<m>, background_<m>, attribute_<m>,
    subject_<m>, description_<m> (models sorted as given)."""
    return [f"{field}_{name}" for field in PER_MODEL_FIELDS for name in model_names]


def export_columns(*, dataset: Dataset) -> list[str]:
    """The columns of a CSV export, in order."""
    return csv_columns_for(export_model_names(dataset=dataset))


def columns_for(model_names: Sequence[str]) -> list[str]:
    """The label columns every tabular format shares (Parquet's, before DES): the CSV's
    leading columns, emotion_<m> per model, critic_verdict."""
    return [*LEADING_COLUMNS, *model_columns(model_names), *TRAILING_COLUMNS]


def csv_columns_for(model_names: Sequence[str]) -> list[str]:
    """The CSV's columns: the leading ones, every model's own answer (per_model_columns), the
    critic's latest verdict with its reasoning, the final label's notes, the image's size and
    hash, the dataset's licence."""
    return [*LEADING_COLUMNS, *per_model_columns(model_names), *CSV_TRAILING_COLUMNS]


def iter_export_batches(
    *, dataset: Dataset, scope: str, with_des: bool = False
) -> Iterator[list[dict[str, object]]]:
    """One list of row dicts per batch of settings.EXPORT_BATCH_SIZE samples, in id order.

    Absent values are None. With `with_des`, each row also has "DES": the stored 4096 bytes or
    None. Five queries per batch, whatever the batch holds; all of them, and the column set, in
    one snapshot.
    """
    with consistent_snapshot():
        yield from iter_export_batches_for(
            dataset=dataset,
            scope=scope,
            model_names=export_model_names(dataset=dataset),
            with_des=with_des,
        )


def iter_export_batches_for(
    *, dataset: Dataset, scope: str, model_names: Sequence[str], with_des: bool = False
) -> Iterator[list[dict[str, object]]]:
    """Like iter_export_batches, for a column set the caller already fixed (in the snapshot
    the caller holds: this reads batch by batch and opens none)."""
    weights: Mapping[str, float] = dataset.model_weights or {}
    licence = dataset.licence or None
    for samples in iter_sample_batches(
        dataset=dataset, scope=scope, batch_size=settings.EXPORT_BATCH_SIZE, with_des=with_des
    ):
        ids = batch_sample_ids(
            dataset=dataset, scope=scope, first_id=samples[0].id, last_id=samples[-1].id
        )
        related = fetch_batch_related(sample_ids=ids)
        rows = []
        for sample in samples:
            row = sample_row(
                sample=sample, related=related, weights=weights, model_names=model_names
            )
            row[EXTRA_LICENCE] = licence
            if with_des:
                row[DES_COLUMN] = des_bytes(sample)
            rows.append(row)
        yield rows


def sample_row(
    *,
    sample: SampleRow,
    related: BatchRelated,
    weights: Mapping[str, float],
    model_names: Sequence[str],
) -> dict[str, object]:
    proposals = related.proposals.get(sample.id, [])
    verdict = related.verdicts.get(sample.id)
    row: dict[str, object] = {
        "sample_id": sample.id,
        "external_id": sample.external_id,
        "image_path": sample.image_path,
        "source": sample.source or None,
        "status": sample.status,
    }
    row.update(dict.fromkeys(LEADING_COLUMNS[5:]))
    row.update(_decision(sample=sample, related=related, weights=weights, proposals=proposals))
    row["bbox"] = bbox_json(related.regions.get(sample.id, []), related.masks.get(sample.id, []))
    _add_model_answers(row, proposals=proposals, model_names=model_names)
    row["critic_verdict"] = verdict.verdict if verdict else None
    row["critic_emotion"] = (verdict.emotion or None) if verdict else None
    row["critic_reasoning"] = (verdict.reasoning or None) if verdict else None
    row["critic_instructions"] = (verdict.instructions or None) if verdict else None
    row.update(_extra_fields(sample=sample, related=related, proposals=proposals))
    return row


def _add_model_answers(
    row: dict[str, object], *, proposals: list[ProposalRow], model_names: Sequence[str]
) -> None:
    """Every model's own answer (per_model_columns): its emotion, confidence, triplet and
    description, None where it left one empty or did not propose (one proposal per model and
    sample: proposal_unique_model)."""
    by_model = {p.model_name: p for p in proposals}
    for name, keys in _per_model_keys(tuple(model_names)):
        p = by_model.get(name)
        if p is None:
            row.update(dict.fromkeys(keys))
            continue
        values = (p.emotion, p.confidence, p.background, p.attribute, p.subject, p.description)
        for key, value in zip(keys, values, strict=True):
            row[key] = None if value == "" else value


def _extra_fields(
    *, sample: SampleRow, related: BatchRelated, proposals: list[ProposalRow]
) -> dict[str, object]:
    """What the richer formats read beside the CSV columns (never written as CSV columns
    unless a format names them): size, hash, the structured regions, every proposal, the
    latest critic verdict and the final label's notes."""
    adjudication = related.adjudications.get(sample.id)
    return {
        EXTRA_WIDTH: sample.width,
        EXTRA_HEIGHT: sample.height,
        EXTRA_CONTENT_HASH: sample.content_hash,
        EXTRA_REGIONS: region_entries(
            related.regions.get(sample.id, []), related.masks.get(sample.id, [])
        ),
        EXTRA_PROPOSALS: proposals,
        EXTRA_CRITIC: related.verdicts.get(sample.id),
        EXTRA_NOTES: (adjudication.notes or None)
        if adjudication is not None and sample.status == Sample.Status.ADJUDICATED
        else None,
    }


def _decision(
    *,
    sample: SampleRow,
    related: BatchRelated,
    weights: Mapping[str, float],
    proposals: list[ProposalRow],
) -> dict[str, object]:
    """The label columns plus decided_by / annotator / decided_at, by the rules above."""
    adjudication = related.adjudications.get(sample.id)
    verdict = related.verdicts.get(sample.id)
    if sample.status == Sample.Status.ADJUDICATED and adjudication is not None:
        chosen = chosen_proposal(proposals=proposals, emotion=adjudication.emotion, weights=weights)
        return {
            "emotion": adjudication.emotion,
            "confidence": adjudication.confidence,
            "background": adjudication.background or None,
            "attribute": adjudication.attribute or None,
            "subject": adjudication.subject or None,
            "description": (chosen.description or None) if chosen else None,
            "decided_by": adjudication.method,
            "annotator": _deciders(adjudication),
            "decided_at": adjudication.decided_at,
        }
    if sample.status == Sample.Status.AGREED and sample.suggested_emotion:
        return _agreed_decision(sample=sample, proposals=proposals, weights=weights)
    if (
        sample.status == Sample.Status.DROPPED
        and verdict is not None
        and verdict.verdict == CriticVerdict.Verdict.DROP
    ):
        return {"decided_by": "critic", "decided_at": verdict.created_at}
    return {}


def _deciders(adjudication: AdjudicationRow) -> str | None:
    """Who decided: the person, or for a consensus the people whose answers agreed."""
    if adjudication.annotator:
        return adjudication.annotator
    people = (adjudication.details or {}).get("annotators") or []
    return ";".join(str(p) for p in people) or None


def _agreed_decision(
    *, sample: SampleRow, proposals: list[ProposalRow], weights: Mapping[str, float]
) -> dict[str, object]:
    emotion = sample.suggested_emotion
    named = [p for p in proposals if p.emotion == emotion]
    confidences = [p.confidence for p in named if p.confidence is not None]
    chosen = chosen_proposal(proposals=named, emotion=emotion, weights=weights)
    decision: dict[str, object] = {
        "emotion": emotion,
        "confidence": fmean(confidences) if confidences else None,
        "decided_by": "models",
        "decided_at": sample.status_changed_at or sample.updated_at,
    }
    if chosen is not None:
        for key in (*TRIPLET_COLUMNS, "description"):
            decision[key] = getattr(chosen, key) or None
    return decision


def chosen_proposal(
    *, proposals: Sequence[ProposalRow], emotion: str, weights: Mapping[str, float]
) -> ProposalRow | None:
    """The proposal naming `emotion` whose triplet and description the row carries: one with
    text first (a classifier's label has none, and won ties by name: empty B-A-S for agreed
    samples two VLMs described), then the highest weight, then the first model name; the
    answer form's draft picks the same way (review.selectors.samples.adjudication_draft)."""
    named = [p for p in proposals if p.emotion == emotion]
    if not named:
        return None
    return min(
        named,
        key=lambda p: (
            not (p.background or p.attribute or p.subject or p.description),
            -weights.get(p.model_name, DEFAULT_WEIGHT),
            p.model_name,
        ),
    )


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


def des_bytes(sample: SampleRow) -> bytes | None:
    """The sample's DES vector as bytes, checked to hold 1024 float32 values."""
    if sample.des is None:
        return None
    raw = bytes(sample.des)
    if len(raw) != DES_BYTES:
        raise ValueError(
            f"sample {sample.id} ({sample.external_id}): DES holds {len(raw)} bytes, "
            f"expected {DES_BYTES} (1024 little-endian float32)"
        )
    return raw
