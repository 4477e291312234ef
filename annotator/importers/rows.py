"""A new sample's rows as plain tuples, built from its parsed line without the database.

No model instances, no SQL: every column a value as the driver takes it, so
annotator.importers.inserts writes them as they are (executemany / COPY). A column the import
does not set gets its model field's default, so a field added to a model later needs no change
here. Each new sample is verified as its rows are built (its proposals and verdict are all in
the line), so it is inserted once with its final status instead of inserted, read back and
updated. `prepare_line` runs in the worker processes for a large file
(annotator.importers.parallel).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection, models

from annotator.importers.masks import ImportedMask
from annotator.importers.records import ParsedRecord
from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from annotator.services.verification import Vote, apply_review_rules, cross_verify

Row = tuple[Any, ...]


def json_text(value: object) -> str:
    """JSON for a json/jsonb column; the json module for what orjson refuses (an integer past
    64 bits kept in a raw record)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def db_value(field: models.Field[Any, Any], value: object) -> object:
    """`value` as the driver takes it for `field`'s column (JSON as text, for COPY too)."""
    if isinstance(field, models.JSONField):
        return None if value is None and field.null else json_text(value)
    return field.get_db_prep_save(value, connection)


class Table:
    """A table's new rows as plain tuples: the `given` columns (attribute names) first, every
    other column's default after them."""

    def __init__(self, model: type[models.Model], given: Sequence[str]) -> None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        by_name = {f.attname: f for f in fields}
        rest = [f for f in fields if f.attname not in given]
        self.name = model._meta.db_table
        self.fields = {name: by_name[name] for name in given}
        self.columns = [str(by_name[name].column) for name in given] + [str(f.column) for f in rest]
        self.tail = tuple(db_value(f, f.get_default()) for f in rest)

    def full(self, row: Row) -> Row:
        """`row` (the given columns) with the defaults after it: every column, in `columns`."""
        return row + self.tail


SAMPLES = Table(
    Sample,
    ["dataset_id", "external_id", "image_path", "source", "width", "height", "content_hash",
     "des", "status", "suggested_emotion", "vote_margin", "dispute_reasons",
     "status_changed_at", "created_at", "updated_at"],
)  # fmt: skip
PROPOSALS = Table(
    Proposal,
    ["sample_id", "model_name", "description", "emotion", "confidence", "background",
     "attribute", "subject", "raw", "created_at", "updated_at"],
)  # fmt: skip
REGIONS = Table(
    Region,
    ["sample_id", "role", "phrase", "x1", "y1", "x2", "y2", "mask", "origin", "model_name",
     "created_at", "updated_at"],
)  # fmt: skip
VERDICTS = Table(
    CriticVerdict,
    ["sample_id", "model_name", "verdict", "emotion", "reasoning", "instructions", "checks",
     "created_at"],
)  # fmt: skip
IMPORTED_VERDICT_CHECKS = {"origin": "import"}  # re-import replaces only these verdicts
_CHECKS = json_text(IMPORTED_VERDICT_CHECKS)


class RowContext(NamedTuple):
    """What a new sample's rows need beyond its line: plain values, so a worker process can
    build them (annotator.importers.parallel), and hashable, so verdicts can be remembered."""

    dataset_id: int
    weights: tuple[tuple[str, float], ...]  # the dataset's model weights, as items
    labels: tuple[str, ...]  # its taxonomy's labels
    stamp: object  # created/updated time, as the driver takes it


class PreparedLine(NamedTuple):
    """A new sample's rows, every column filled but the related rows' sample id (first)."""

    external_id: str
    status: str
    sample: Row
    proposals: tuple[Row, ...]
    regions: tuple[Row, ...]
    verdicts: tuple[Row, ...]


_SUBJECT, _IMPORT = Region.Role.SUBJECT.value, Region.Origin.IMPORT.value
_NO_BOX = (None, None, None, None)


def row_context(*, dataset: Dataset, now: datetime) -> RowContext:
    stamp = db_value(SAMPLES.fields["created_at"], now)
    weights = tuple(sorted((dataset.model_weights or {}).items()))
    return RowContext(dataset.pk, weights, tuple(dataset.taxonomy.labels), stamp)


def prepare_line(
    *,
    record: ParsedRecord,
    image: Any,
    masks: Sequence[tuple[str, ImportedMask]],
    rows: RowContext,
) -> PreparedLine:
    """The rows of a new sample holding this line, verified (its status is final)."""
    c, stamp = record.critic, rows.stamp
    votes = tuple((p.model_name, p.emotion) for p in record.proposals)
    status, suggested, margin, reasons = _verify_votes(
        votes, c.verdict if c else "", c.emotion if c else "", rows.weights, rows.labels
    )
    sample = SAMPLES.full(
        (rows.dataset_id, record.external_id, record.image_path, record.source, image.width,
         image.height, image.content_hash, record.des, status, suggested, margin, reasons,
         stamp, stamp, stamp)
    )  # fmt: skip
    proposals = tuple(
        PROPOSALS.full((p.model_name, p.description, p.emotion, p.confidence, p.background,
                        p.attribute, p.subject, json_text(p.raw), stamp, stamp))
        for p in record.proposals
    )  # fmt: skip
    boxes = tuple(
        REGIONS.full((_SUBJECT, p.subject, *item.box, None, _IMPORT, p.model_name, stamp, stamp))
        for p in record.proposals
        for item in p.boxes
    )  # fmt: skip
    mask_rows = tuple(
        REGIONS.full((mask.role, mask.phrase, *(mask.box or _NO_BOX), json_text(mask.rle),
                      _IMPORT, model, stamp, stamp))
        for model, mask in masks
    )  # fmt: skip
    verdicts = () if c is None else (VERDICTS.full(
        (c.model_name, c.verdict, c.emotion, c.reasoning, c.instructions, _CHECKS, stamp)
    ),)  # fmt: skip
    return PreparedLine(record.external_id, status, sample, proposals, boxes + mask_rows, verdicts)


@functools.lru_cache(maxsize=4096)
def _verify_votes(
    votes: tuple[tuple[str, str], ...],
    verdict: str,
    verdict_emotion: str,
    weights: tuple[tuple[str, float], ...],
    labels: tuple[str, ...],
) -> tuple[str, str, float | None, str]:
    """(status, suggestion, margin, reasons as JSON) that annotator.importers.verify would
    store for a new sample with these votes and critic verdict. Remembered: a file repeats a
    few dozen combinations (8 emotions, 2-3 models) over hundreds of thousands of lines."""
    result = cross_verify(
        votes=[Vote(model, emotion) for model, emotion in votes],
        weights=dict(weights),
        labels=list(labels),
    )
    status, suggested = apply_review_rules(
        result=result,
        verdict=verdict,
        verdict_emotion=verdict_emotion,
        current_status=Sample.Status.PENDING,
    )
    return status, suggested, result.margin, json_text(result.reasons)
