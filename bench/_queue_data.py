"""Data for bench/queue_speed.py: one EmoVerse-sized dataset, written as an importer would.

Every sample carries a 4 KiB DES (on SQLite it sits in the row, before `status`), two model
proposals and a source; about 30% are disputed. The people's work is the same at every size
(it is what a team did, not a share of the dataset): ANNOTATORS annotators, CONFLICTS samples
answered by two of them who disagreed (they wait for an adjudicator), and one auditor who also
adjudicates. The samples end as an import ends, with the importer's ANALYZE of the tables it
wrote (annotator.importers.statistics); the people's tables get none here (autovacuum is off on
this machine's PostgreSQL, and their rows come after the import): bench/queue_speed.py then runs
beat's statistics check (annotator.services.planner_statistics) unless told not to.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bench import _common

STATUSES = [
    ("disputed", 0.30),
    ("agreed", 0.50),
    ("adjudicated", 0.10),
    ("pending", 0.05),
    ("dropped", 0.05),
]
ANNOTATORS = 16
CONFLICTS = 300
DES_BYTES = 4096
BATCH = 5_000
SAMPLE_COLUMNS = [
    "id", "dataset_id", "external_id", "image_path", "source", "width", "height",
    "content_hash", "des", "status", "suggested_emotion", "vote_margin", "dispute_reasons",
    "human_check", "gold_emotion", "created_at", "updated_at",
]  # fmt: skip
PROPOSAL_COLUMNS = [
    "sample_id", "model_name", "description", "emotion", "confidence", "background",
    "attribute", "subject", "distribution", "prompt_version", "raw", "created_at", "updated_at",
]  # fmt: skip


def users() -> tuple[Any, list[Any]]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    model = get_user_model()
    auditor = model.objects.create_user(username="bench-auditor", password="unused")
    auditor.groups.add(*Group.objects.filter(name__in=["auditor", "adjudicator"]))
    annotators = []
    for i in range(ANNOTATORS):
        person = model.objects.create_user(username=f"bench-annotator-{i}", password="unused")
        person.groups.add(Group.objects.get(name="annotator"))
        annotators.append(person)
    return auditor, annotators


def _rows(dataset_id: int, start: int, count: int, rng: random.Random) -> tuple[list, list]:
    from django.utils import timezone

    now = timezone.now()
    samples, proposals = [], []
    for i in range(start, start + count):
        status = _common.pick_status(rng, STATUSES)
        emotion = rng.choice(_common.EMOTIONS) if status != "pending" else ""
        source = rng.choice(_common.SOURCES)
        samples.append((
            i + 1, dataset_id, f"img-{i:07d}", f"{source}/{i:07d}.jpg", source, 640, 480,
            f"{i:064x}", rng.randbytes(DES_BYTES), status, emotion, 0.5, "[]", False, "",
            now, now,
        ))  # fmt: skip
        for model in _common.MODELS[:2]:
            label = emotion if status == "agreed" else rng.choice(_common.EMOTIONS)
            proposals.append((
                i + 1, model, "A person stands on a snow-covered plain.", label, 7.0,
                "snow-covered plain", "excited", "person", "{}", "v1", "{}", now, now,
            ))  # fmt: skip
    return samples, proposals


def _write(cursor: Any, table: str, columns: list[str], rows: list[tuple]) -> None:
    from django.db import connection

    names = ", ".join(columns)
    if connection.vendor == "postgresql":  # COPY, as the PostgreSQL importer writes
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def samples(*, dataset: Any, count: int, seed: int = 11) -> None:
    from django.db import connection, transaction

    rng = random.Random(seed)
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, count, BATCH):
            rows, proposals = _rows(dataset.pk, start, min(BATCH, count - start), rng)
            _write(cursor, "annotator_sample", SAMPLE_COLUMNS, rows)
            _write(cursor, "annotator_proposal", PROPOSAL_COLUMNS, proposals)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('annotator_sample', 'id'), %s)",
                           [count])  # fmt: skip
    from annotator.importers.statistics import refresh_statistics

    refresh_statistics()


def people_work(*, dataset: Any, annotators: list[Any]) -> None:
    """CONFLICTS disputed samples answered by two annotators who disagree (through the same
    service the answer form calls), so they wait for an adjudicator."""
    from django.utils import timezone

    from annotator.models import Sample
    from review.labels import Label
    from review.models import Assignment
    from review.services.consensus import submit_answer

    disputed = Sample.objects.filter(dataset=dataset, status="disputed").defer("des")
    for i, sample in enumerate(disputed.order_by("id")[:CONFLICTS]):
        for j, emotion in enumerate(("awe", "fear")):
            person = annotators[(i + j) % len(annotators)]
            Assignment.objects.create(
                sample=sample, annotator=person, kind=Assignment.Kind.ANNOTATE,
                status=Assignment.Status.ACTIVE, expires_at=timezone.now() + timedelta(hours=1),
            )  # fmt: skip
            submit_answer(sample=sample, annotator=person, label=Label(emotion, 7.0))


def build(count: int) -> dict[str, Any]:
    """Migrate, make the people and the dataset; the names the measurements need."""
    _common.migrate()
    from annotator.models import Dataset, Taxonomy

    auditor, annotators = users()
    dataset = Dataset.objects.create(
        name="bench-queue", taxonomy=Taxonomy.objects.get(name="mikels8"), overlap_k=2
    )
    samples(dataset=dataset, count=count)
    people_work(dataset=dataset, annotators=annotators)
    return {"dataset": dataset, "auditor": auditor, "annotators": annotators}
