"""New samples straight into their tables: rows as tuples, no model instances, no ORM SQL.

executemany on SQLite, COPY on PostgreSQL (psycopg 3's copy). A column the import does not set
gets its model field's default, so a field added to a model later needs no change here. Each
new sample is verified before it is written (its proposals and verdict are all in the line), so
it is inserted once with its final status instead of inserted, read back and updated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from django.db import connection, models

from annotator.importers.masks import ImportedMask
from annotator.importers.records import ParsedRecord
from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from annotator.services.verification import Verification, Vote, apply_review_rules, cross_verify

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
    """Inserts rows whose first values are `given` (attribute names); defaults fill the rest."""

    def __init__(self, model: type[models.Model], given: Sequence[str]) -> None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        by_name = {f.attname: f for f in fields}
        rest = [f for f in fields if f.attname not in given]
        self.name = model._meta.db_table
        self.fields = {name: by_name[name] for name in given}
        self.columns = [str(by_name[name].column) for name in given] + [str(f.column) for f in rest]
        self.tail = tuple(db_value(f, f.get_default()) for f in rest)

    def insert(self, rows: Iterable[Row]) -> None:
        full = [row + self.tail for row in rows]
        if not full:
            return
        quote = connection.ops.quote_name
        columns = ", ".join(quote(c) for c in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                copy_sql = f"COPY {quote(self.name)} ({columns}) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in full:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                sql = f"INSERT INTO {quote(self.name)} ({columns}) VALUES ({marks})"
                cursor.executemany(sql, full)


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


def first_verification(*, record: ParsedRecord, dataset: Dataset) -> Verification:
    """What annotator.importers.verify would store for a new sample holding just this line."""
    votes = [Vote(p.model_name, p.emotion) for p in record.proposals]
    weights, labels = dataset.model_weights or {}, dataset.taxonomy.labels
    result = cross_verify(votes=votes, weights=weights, labels=labels)
    critic = record.critic
    status, suggested = apply_review_rules(
        result=result,
        verdict=critic.verdict if critic else "",
        verdict_emotion=critic.emotion if critic else "",
        current_status=Sample.Status.PENDING,
    )
    return Verification(status, suggested, result.margin, result.reasons)


def insert_samples(
    *, dataset: Dataset, lines: Sequence[tuple[ParsedRecord, Any, Verification]], now: datetime
) -> dict[str, int]:
    """Insert the samples; {external id: sample id}. `lines`: (record, image, verification)."""
    stamp = db_value(SAMPLES.fields["created_at"], now)
    SAMPLES.insert(
        (dataset.pk, record.external_id, record.image_path, record.source, image.width,
         image.height, image.content_hash, record.des, result.status, result.suggested_emotion,
         result.margin, json_text(result.reasons), stamp, stamp, stamp)
        for record, image, result in lines
    )  # fmt: skip
    ids = [record.external_id for record, _, _ in lines]
    quote = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('external_id')}, {quote('id')} FROM {quote(SAMPLES.name)} "
            f"WHERE {quote('dataset_id')} = %s AND {quote('external_id')} IN ({marks})",
            [dataset.pk, *ids],
        )
        return dict(cursor.fetchall())


def insert_related(
    *,
    records: Sequence[tuple[int, ParsedRecord]],
    masks: Sequence[tuple[int, tuple[tuple[str, ImportedMask], ...]]],
    now: datetime,
) -> None:
    """Proposals, box and mask regions and imported verdicts of new samples."""
    stamp = db_value(PROPOSALS.fields["created_at"], now)
    PROPOSALS.insert(
        (pk, p.model_name, p.description, p.emotion, p.confidence, p.background, p.attribute,
         p.subject, json_text(p.raw), stamp, stamp)
        for pk, record in records
        for p in record.proposals
    )  # fmt: skip
    box_rows = [
        (pk, Region.Role.SUBJECT.value, p.subject, *item.box, None, Region.Origin.IMPORT.value,
         p.model_name, stamp, stamp)
        for pk, record in records
        for p in record.proposals
        for item in p.boxes
    ]  # fmt: skip
    mask_rows = [
        (pk, mask.role, mask.phrase, *(mask.box or (None,) * 4), json_text(mask.rle),
         Region.Origin.IMPORT.value, model, stamp, stamp)
        for pk, found in masks
        for model, mask in found
    ]  # fmt: skip
    REGIONS.insert(box_rows + mask_rows)
    checks = json_text(IMPORTED_VERDICT_CHECKS)
    VERDICTS.insert(
        (pk, c.model_name, c.verdict, c.emotion, c.reasoning, c.instructions, checks, stamp)
        for pk, record in records
        if (c := record.critic) is not None
    )
