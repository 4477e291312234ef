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
- anything else (disputed, pending): no label; the per-model emotions are still filled. With
  label_from "consensus" such a sample with a posterior gets the latent-class model's label
  (decided_by "consensus_model"; review.services.export_posterior).
Every row also carries the soft labels: posterior, posterior_entropy, label_source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from statistics import fmean

from django.conf import settings

from annotator.models import CriticVerdict, Dataset, Sample
from review.labels import LABEL_FIELDS_NO_NOTES, TRIPLET_FIELDS
from review.selectors.export import (
    AdjudicationRow,
    BatchRelated,
    ProposalRow,
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
from review.services.export_posterior import (
    LABEL_FROM_DECIDED,
    SoftLabels,
    add_soft_labels,
    soft_columns,
    soft_labels_for,
)

# The region entries moved to export_regions; their names stay importable from here.
from review.services.export_regions import bbox_json as bbox_json
from review.services.export_regions import region_entries as region_entries

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
    *LABEL_FIELDS_NO_NOTES,  # the label's fields; its notes trail (EXTRA_NOTES)
    "description",
    "bbox",
    "decided_by",
    "annotator",
    "decided_at",
]
TRAILING_COLUMNS = ["critic_verdict"]
TRIPLET_COLUMNS = TRIPLET_FIELDS
# Each model's own answer, one block of columns per field: emotion_<m> for every model, then
# confidence_<m> for every model, and so on (the emotion block stays where it always was).
PER_MODEL_FIELDS = (*LABEL_FIELDS_NO_NOTES, "description")
_model_values = attrgetter(*PER_MODEL_FIELDS)
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
    labels = [str(label) for label in dataset.taxonomy.labels]
    return csv_columns_for(export_model_names(dataset=dataset), labels=labels)


def columns_for(model_names: Sequence[str]) -> list[str]:
    """The label columns every tabular format shares (Parquet's, before DES): the CSV's
    leading columns, emotion_<m> per model, critic_verdict."""
    return [*LEADING_COLUMNS, *model_columns(model_names), *TRAILING_COLUMNS]


def csv_columns_for(model_names: Sequence[str], *, labels: Sequence[str] = ()) -> list[str]:
    """The CSV's columns: the leading ones, every model's own answer (per_model_columns), the
    critic's latest verdict with its reasoning, the final label's notes, the image's size and
    hash, the dataset's licence, then the soft labels (export_posterior.soft_columns: one
    posterior_<label> per taxonomy label)."""
    return [
        *LEADING_COLUMNS,
        *per_model_columns(model_names),
        *CSV_TRAILING_COLUMNS,
        *soft_columns(labels),
    ]


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
    *,
    dataset: Dataset,
    scope: str,
    model_names: Sequence[str],
    with_des: bool = False,
    soft: SoftLabels | None = None,
) -> Iterator[list[dict[str, object]]]:
    """Like iter_export_batches, for a column set the caller already fixed (in the snapshot
    the caller holds: this reads batch by batch and opens none). Every row also has the soft
    labels of `soft` (default: the latest fit, label_from "decided"; export_posterior)."""
    weights: Mapping[str, float] = dataset.model_weights or {}
    licence = dataset.licence or None
    soft = soft or soft_labels_for(dataset=dataset, label_from=LABEL_FROM_DECIDED)

    def describe(proposals: Sequence[ProposalRow], emotion: str) -> dict[str, object]:
        return _described(proposals=proposals, emotion=emotion, weights=weights)

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
        add_soft_labels(rows, soft=soft, sample_ids=ids, describe=describe)
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
        for key, value in zip(keys, _model_values(p), strict=True):
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
            **_label_cells(adjudication),
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
    return {
        "emotion": emotion,
        "confidence": fmean(confidences) if confidences else None,
        "decided_by": "models",
        "decided_at": sample.status_changed_at or sample.updated_at,
        **_described(proposals=named, emotion=emotion, weights=weights),
    }


def _label_cells(adjudication: object) -> dict[str, object]:
    """The final label's columns: emotion and confidence as stored, a blank triplet part None."""
    cells = {name: getattr(adjudication, name) for name in LABEL_FIELDS_NO_NOTES}
    return cells | {name: cells[name] or None for name in TRIPLET_COLUMNS}


def _described(
    *, proposals: Sequence[ProposalRow], emotion: str, weights: Mapping[str, float]
) -> dict[str, object]:
    """The triplet and description of the proposal chosen_proposal picks ({} when none)."""
    chosen = chosen_proposal(proposals=proposals, emotion=emotion, weights=weights)
    if chosen is None:
        return {}
    return {key: getattr(chosen, key) or None for key in (*TRIPLET_COLUMNS, "description")}


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
