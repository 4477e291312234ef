"""Reads for the answers export: every human answer and vote on a dataset, one row each.

Four kinds, from four tables: a blind first answer (BlindAnswer, machine-blind datasets), an
answer (Annotation, made in the app or imported), a binary vote (BinaryVote) and an adjudication
(every Adjudication version, undone ones included and flagged). Samples are read in keyset
batches; each batch costs five queries (its samples, then one per table) however many answers
it holds. `round` numbers a sample's answers of one kind in the order they were saved: the k
answers of an overlap (1..k), the votes on one (sample, emotion) unit (1..3 in EmoNet-Face),
the blind answers; for an adjudication it is the version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from annotator.models import Dataset, Sample
from review.models import Adjudication, Annotation, BinaryVote, BlindAnswer

KIND_BLIND = "blind_first_answer"
KIND_ANSWER = "answer"
KIND_VOTE = "binary_vote"
KIND_ADJUDICATION = "adjudication"
# A sample's rows come in this order: what a person said first, then their answers, the
# votes, and the decisions made from them.
KINDS = (KIND_BLIND, KIND_ANSWER, KIND_VOTE, KIND_ADJUDICATION)
SOURCE_APP = Annotation.Source.APP.value


class AnswerExportRow(NamedTuple):
    sample_id: int
    external_id: str
    annotator: str | None  # username; a consensus names its people joined by ";"
    kind: str  # one of KINDS
    emotion: str | None  # the category answered; a vote's category asked about
    vote: bool | None  # binary votes: yes (True) or no (False)
    value_number: float | None  # a numeric answer (long-format imports)
    confidence: float | None
    background: str | None
    attribute: str | None
    subject: str | None
    notes: str | None
    time_spent_ms: int | None  # None when not recorded (0 stored: imports, votes)
    answered_at: datetime
    source: str  # app | import
    round: int
    method: str | None  # adjudications: person | consensus | adjudicator
    reverted: bool | None  # adjudications: the version was undone


ANSWER_COLUMNS: tuple[str, ...] = AnswerExportRow._fields


def answers_export_count(*, dataset: Dataset) -> int:
    """How many rows the answers export of `dataset` writes (four counts)."""
    return sum(
        model.objects.filter(sample__dataset=dataset).count()  # type: ignore[attr-defined]
        for model in (BlindAnswer, Annotation, BinaryVote, Adjudication)
    )


def iter_answer_batches(*, dataset: Dataset, batch_size: int) -> Iterator[list[AnswerExportRow]]:
    """The rows of `batch_size` samples at a time, in sample id order (keyset, never OFFSET),
    each sample's rows in KINDS order, then emotion (votes), then round. Batches of samples
    without answers are skipped. The caller holds the snapshot."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    samples = Sample.objects.filter(dataset=dataset).order_by("id")
    last_id = 0
    while True:
        batch = list(samples.filter(id__gt=last_id).values_list("id", "external_id")[:batch_size])
        if not batch:
            return
        first_id, last_id = batch[0][0], batch[-1][0]
        ids = samples.filter(id__gte=first_id, id__lte=last_id).order_by().values("id")
        rows = _batch_rows(sample_ids=ids, external_ids=dict(batch))
        if rows:
            yield rows
        if len(batch) < batch_size:
            return


def _rank(*partition: str) -> Window:
    """The row's place among its partition's rows in the order they were saved (ids grow)."""
    return Window(RowNumber(), partition_by=[F(p) for p in partition], order_by=[F("id").asc()])


def _batch_rows(
    *, sample_ids: QuerySet[Any], external_ids: dict[int, str]
) -> list[AnswerExportRow]:
    rows = [
        *_blind_rows(sample_ids),
        *_answer_rows(sample_ids),
        *_vote_rows(sample_ids),
        *_adjudication_rows(sample_ids),
    ]
    rows = [row._replace(external_id=external_ids[row.sample_id]) for row in rows]
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows.sort(key=lambda r: (r.sample_id, order[r.kind], r.emotion or "", r.round))
    return rows


def _text(value: str) -> str | None:
    return value or None


def _spent(value: int) -> int | None:
    return value or None


def _blind_rows(sample_ids: QuerySet[Any]) -> Iterator[AnswerExportRow]:
    qs = BlindAnswer.objects.filter(sample_id__in=sample_ids).annotate(n=_rank("sample_id"))
    for sid, who, emotion, conf, bg, attr, subj, spent, at, n in qs.values_list(
        "sample_id", "annotator__username", "emotion", "confidence", "background",
        "attribute", "subject", "time_spent_ms", "answered_at", "n",
    ):  # fmt: skip
        yield AnswerExportRow(
            sid, "", who, KIND_BLIND, emotion, None, None, conf, _text(bg), _text(attr),
            _text(subj), None, _spent(spent), at, SOURCE_APP, n, None, None,
        )  # fmt: skip


def _answer_rows(sample_ids: QuerySet[Any]) -> Iterator[AnswerExportRow]:
    qs = Annotation.objects.filter(sample_id__in=sample_ids).annotate(n=_rank("sample_id"))
    for sid, who, emotion, number, conf, bg, attr, subj, notes, spent, at, src, n in (
        qs.values_list(
            "sample_id", "annotator__username", "emotion", "value_number", "confidence",
            "background", "attribute", "subject", "notes", "time_spent_ms", "created_at",
            "source", "n",
        )
    ):  # fmt: skip
        yield AnswerExportRow(
            sid, "", who, KIND_ANSWER, _text(emotion), None, number, conf, _text(bg),
            _text(attr), _text(subj), _text(notes), _spent(spent), at, src, n, None, None,
        )  # fmt: skip


def _vote_rows(sample_ids: QuerySet[Any]) -> Iterator[AnswerExportRow]:
    qs = BinaryVote.objects.filter(sample_id__in=sample_ids).annotate(
        n=_rank("sample_id", "emotion")
    )
    for sid, who, emotion, value, src, at, n in qs.values_list(
        "sample_id", "annotator__username", "emotion", "value", "source", "created_at", "n"
    ):
        yield AnswerExportRow(
            sid, "", who, KIND_VOTE, emotion, value, None, None, None, None, None, None, None,
            at, src, n, None, None,
        )  # fmt: skip


def _adjudication_rows(sample_ids: QuerySet[Any]) -> Iterator[AnswerExportRow]:
    qs = Adjudication.objects.filter(sample_id__in=sample_ids)
    for sid, who, details, emotion, conf, bg, attr, subj, notes, spent, at, v, how, undone in (
        qs.values_list(
            "sample_id", "annotator__username", "details", "emotion", "confidence",
            "background", "attribute", "subject", "notes", "time_spent_ms", "decided_at",
            "version", "method", "reverted",
        )
    ):  # fmt: skip
        yield AnswerExportRow(
            sid, "", who or _people(details), KIND_ADJUDICATION, emotion, None, None, conf,
            _text(bg), _text(attr), _text(subj), _text(notes), _spent(spent), at, SOURCE_APP,
            v, how, undone,
        )  # fmt: skip


def _people(details: Any) -> str | None:
    """A consensus has no single person: the people whose answers agreed, as the label
    export's annotator column names them."""
    if not isinstance(details, dict):
        return None
    return ";".join(str(p) for p in details.get("annotators") or []) or None
