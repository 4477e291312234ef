"""The writes behind an annotation import: placeholder samples, inactive users, answers.

Called inside the importer's transaction, after the file was checked. Bulk statements in
batches keep each one under SQLite's bound-parameter limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator.models import Dataset, Sample
from review.importers.annotation_rows import FORMAT_EMONET_BINARY, AnswerRow
from review.models import Annotation, AuditEvent, BinaryVote

BATCH_SIZE = 500
Key = tuple[int, str, int]  # (sample id, emotion for binary votes else "", user id)
KEPT_ACTION = "import_kept_answers"
REPLACED_ACTION = "import_replaced_answers"


@dataclass(frozen=True)
class DecidedChange:
    """A row that would change an imported answer a final label was decided from."""

    line: int
    sample: str  # external id
    sample_id: int
    who: str  # the annotator, and for a binary vote "/emotion"
    before: dict[str, Any]
    after: dict[str, Any]


def sample_ids(*, dataset: Dataset, keys: set[str]) -> dict[str, int]:
    """{external id: sample id} for the keys the dataset has (one query over the dataset)."""
    rows = Sample.objects.filter(dataset=dataset).values_list("external_id", "id")
    return {
        external_id: pk for external_id, pk in rows.iterator(chunk_size=5000) if external_id in keys
    }


def write_placeholder_samples(
    *, dataset: Dataset, keys: Iterable[str], into: dict[str, int]
) -> int:
    """Samples for answers whose images are not shipped (EmoNet-Face): the id is the image path,
    size 0x0, no hash, status pending. Adds their ids to `into`; returns how many were made."""
    wanted = sorted(keys)
    now = timezone.now()
    for start in range(0, len(wanted), BATCH_SIZE):
        Sample.objects.bulk_create(
            [
                Sample(
                    dataset=dataset,
                    external_id=key,
                    image_path=key,
                    width=0,
                    height=0,
                    content_hash="",
                    status=Sample.Status.PENDING,
                    status_changed_at=now,
                )
                for key in wanted[start : start + BATCH_SIZE]
            ]
        )
    if wanted:
        into.update(sample_ids(dataset=dataset, keys=set(wanted)))
    return len(wanted)


def find_users(*, names: set[str]) -> dict[str, int]:
    """{username: id} of the people who already exist."""
    users = get_user_model().objects.filter(username__in=sorted(names))
    return dict(users.values_list("username", "id"))


def create_users(*, names: set[str], into: dict[str, int]) -> list[str]:
    """Create the people `into` lacks as inactive users whose password cannot be used (their
    answers are attributable, but nobody can log in as them); returns their names."""
    user_model = get_user_model()
    missing = sorted(names - set(into))
    new_users = []
    for name in missing:
        user = user_model(username=name, is_active=False)
        user.set_unusable_password()
        new_users.append(user)
    user_model.objects.bulk_create(new_users, batch_size=BATCH_SIZE)
    if missing:
        into.update(user_model.objects.filter(username__in=missing).values_list("username", "id"))
    return missing


def existing_answers(*, fmt: str, dataset: Dataset | None, users: dict[str, int]) -> dict[Key, str]:
    """{(sample, emotion, user): source} for answers these users already have in the dataset."""
    if dataset is None or not users:
        return {}
    user_ids = sorted(users.values())
    if fmt == FORMAT_EMONET_BINARY:
        votes = BinaryVote.objects.filter(sample__dataset=dataset, annotator_id__in=user_ids)
        rows = votes.values_list("sample_id", "emotion", "annotator_id", "source")
        return {(s, e, u): source for s, e, u, source in rows.iterator(chunk_size=5000)}
    answers = Annotation.objects.filter(sample__dataset=dataset, annotator_id__in=user_ids)
    pairs = answers.values_list("sample_id", "annotator_id", "source")
    return {(s, "", u): source for s, u, source in pairs.iterator(chunk_size=5000)}


def write_answers(
    *,
    fmt: str,
    rows: list[AnswerRow],
    ids: dict[str, int],
    users: dict[str, int],
    existing: dict[Key, str],
) -> tuple[int, int]:
    """Upsert every row as an imported Annotation or BinaryVote; (created, replaced)."""
    binary = fmt == FORMAT_EMONET_BINARY
    updated = sum(
        (ids[r.sample], r.emotion if binary else "", users[r.annotator]) in existing for r in rows
    )
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        if binary:
            _upsert_votes(batch, ids, users)
        else:
            _upsert_annotations(batch, ids, users)
    return len(rows) - updated, updated


def _upsert_votes(rows: list[AnswerRow], ids: dict[str, int], users: dict[str, int]) -> None:
    BinaryVote.objects.bulk_create(
        [
            BinaryVote(
                sample_id=ids[row.sample],
                annotator_id=users[row.annotator],
                emotion=row.emotion,
                value=bool(row.vote),
                source=Annotation.Source.IMPORT,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["sample", "emotion", "annotator"],
        update_fields=["value", "source"],
    )


def _upsert_annotations(rows: list[AnswerRow], ids: dict[str, int], users: dict[str, int]) -> None:
    Annotation.objects.bulk_create(
        [
            Annotation(
                sample_id=ids[row.sample],
                annotator_id=users[row.annotator],
                emotion=row.emotion,
                value_number=row.number,
                confidence=row.confidence,
                notes=row.notes,
                source=Annotation.Source.IMPORT,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["sample", "annotator"],
        update_fields=["emotion", "value_number", "confidence", "notes", "source"],
    )


def changed_decided_answers(
    *,
    fmt: str,
    dataset: Dataset | None,
    rows: list[AnswerRow],
    ids: dict[str, int],
    users: dict[str, int],
) -> dict[int, DecidedChange]:
    """{line: change} for rows that would change an imported answer on a sample that has a
    final label (status adjudicated); rows equal to what is stored are no change."""
    if dataset is None or not users:
        return {}
    binary = fmt == FORMAT_EMONET_BINARY
    stored = _imported_on_decided(binary=binary, dataset=dataset, user_ids=sorted(users.values()))
    changes = {}
    for row in rows:
        key = (ids.get(row.sample, 0), row.emotion if binary else "", users.get(row.annotator, 0))
        after = _answer_values(row, binary=binary)
        if key in stored and stored[key] != after:
            who = f"{row.annotator}/{row.emotion}" if binary else row.annotator
            changes[row.line] = DecidedChange(row.line, row.sample, key[0], who, stored[key], after)
    return changes


def _imported_on_decided(
    *, binary: bool, dataset: Dataset, user_ids: list[int]
) -> dict[Key, dict[str, Any]]:
    scope = {
        "sample__dataset": dataset,
        "sample__status": Sample.Status.ADJUDICATED,
        "annotator_id__in": user_ids,
        "source": Annotation.Source.IMPORT,
    }
    if binary:
        votes = BinaryVote.objects.filter(**scope).values_list(
            "sample_id", "emotion", "annotator_id", "value"
        )
        return {(s, e, u): {"value": v} for s, e, u, v in votes.iterator(chunk_size=5000)}
    answers = Annotation.objects.filter(**scope).values_list(
        "sample_id", "annotator_id", "emotion", "value_number", "confidence", "notes"
    )
    return {
        (s, "", u): {"emotion": e, "value_number": n, "confidence": c, "notes": notes}
        for s, u, e, n, c, notes in answers.iterator(chunk_size=5000)
    }


def _answer_values(row: AnswerRow, *, binary: bool) -> dict[str, Any]:
    if binary:
        return {"value": bool(row.vote)}
    return {
        "emotion": row.emotion,
        "value_number": row.number,
        "confidence": row.confidence,
        "notes": row.notes,
    }


def record_decided_answers(
    *, changes: list[DecidedChange], overridden: bool, shown: str, actor: Any
) -> None:
    """One audit event per sample (its history) listing the answers kept or replaced."""
    by_sample: dict[int, list[DecidedChange]] = {}
    for change in changes:
        by_sample.setdefault(change.sample_id, []).append(change)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            sample_id=sample_id,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action=REPLACED_ACTION if overridden else KEPT_ACTION,
            before={
                "status": Sample.Status.ADJUDICATED,
                "answers": {c.who: c.before for c in group},
            },
            after={"file": shown, "answers": {c.who: c.after for c in group}},
        )
        for sample_id, group in by_sample.items()
    )
