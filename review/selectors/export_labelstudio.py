"""Reads the Label Studio export needs beside the shared export rows: every person's answer,
each person's own accepted masks, who decided (with an e-mail Label Studio can match), and the
labels and controls its labeling config must declare. One query each, per batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from annotator.models import CriticVerdict, Dataset, Proposal
from review.models import Adjudication, Annotation, MaskEdit

# Label Studio matches an imported annotation's completed_by to its users by e-mail; people
# without one get this reserved domain (RFC 2606), so the address is never someone's real one.
FALLBACK_EMAIL_DOMAIN = "emoreview.invalid"


class AnswerRow(NamedTuple):
    """One person's answer on a sample (review.models.Annotation)."""

    sample_id: int
    annotator_id: int
    username: str
    email: str
    emotion: str
    value_number: float | None
    confidence: float | None
    background: str
    attribute: str
    subject: str
    notes: str
    time_spent_ms: int
    source: str
    created_at: datetime


class PersonMaskRow(NamedTuple):
    """A person's own latest accepted mask of one B-A-S element (not undone)."""

    sample_id: int
    author_id: int
    role: str
    candidates: list[dict[str, Any]]
    chosen: int
    segmenter: str


def person_email(*, username: str, email: str) -> str:
    return email or f"{username}@{FALLBACK_EMAIL_DOMAIN}"


def batch_answers(*, sample_ids: Iterable[int]) -> dict[int, list[AnswerRow]]:
    """Every Annotation on the samples, per sample, oldest first."""
    fields = [f for f in AnswerRow._fields if f not in ("username", "email")]
    rows = (
        Annotation.objects.filter(sample_id__in=sample_ids)
        .order_by("sample_id", "created_at", "id")
        .values_list(*fields[:2], "annotator__username", "annotator__email", *fields[2:])
    )
    grouped: dict[int, list[AnswerRow]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(AnswerRow(*row))
    return grouped


def batch_person_masks(*, sample_ids: Iterable[int]) -> dict[int, dict[int, list[PersonMaskRow]]]:
    """Per sample, per author: their latest accepted, not undone, mask of each element."""
    edits = MaskEdit.objects.filter(
        sample_id__in=sample_ids, accepted_at__isnull=False, undone=False, author__isnull=False
    )
    latest = (
        edits.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("sample_id"), F("role"), F("author_id")],
                order_by=[F("seq").desc()],
            )
        )
        .filter(rank=1)
        .order_by("sample_id", "author_id", "role")
    )
    grouped: dict[int, dict[int, list[PersonMaskRow]]] = {}
    for row in latest.values_list(*PersonMaskRow._fields):
        mask = PersonMaskRow(*row)
        grouped.setdefault(mask.sample_id, {}).setdefault(mask.author_id, []).append(mask)
    return grouped


def emails_of(*, usernames: Iterable[str]) -> dict[str, str]:
    """username -> the e-mail completed_by carries (the fallback where a user has none)."""
    names = set(usernames)
    if not names:
        return {}
    rows = get_user_model().objects.filter(username__in=names).values_list("username", "email")
    return {name: person_email(username=name, email=email) for name, email in rows}


def config_emotions(*, dataset: Dataset) -> list[str]:
    """The dataset's taxonomy labels in order, then any other emotion a proposal, verdict,
    answer or final label on it names (sorted): Label Studio refuses a choice its config lacks."""
    labels = [str(label) for label in dataset.taxonomy.labels]
    seen = set(labels)
    extra: set[str] = set()
    for model, field in (
        (Proposal, "sample__dataset"),
        (CriticVerdict, "sample__dataset"),
        (Annotation, "sample__dataset"),
        (Adjudication, "sample__dataset"),
    ):
        names = model.objects.filter(**{field: dataset}).exclude(emotion="")  # type: ignore[attr-defined]
        extra.update(names.order_by().values_list("emotion", flat=True).distinct())
    return labels + sorted(extra - seen)


def has_numeric_answers(*, dataset: Dataset) -> bool:
    """Whether any answer is a number (long-format imports): the config then has a Number."""
    return Annotation.objects.filter(sample__dataset=dataset, value_number__isnull=False).exists()
