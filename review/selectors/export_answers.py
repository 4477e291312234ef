"""Reads for the answers export: every human answer and vote on a dataset, one row each.

Four kinds, from four tables: a blind first answer (BlindAnswer, machine-blind datasets), an
answer (Annotation, made in the app or imported), a binary vote (BinaryVote) and an adjudication
(every Adjudication version, undone ones included and flagged). Rows come in time order,
answered_at then the row's id (then KINDS order), the whole dataset through: each table is one
query read in that order through a cursor, chunk by chunk, and the four are merged, so the
export costs four queries and a batch's worth of rows in memory however large it is.
`round` numbers a sample's answers of one kind in the order they were saved: the k answers of
an overlap (1..k), the votes on one (sample, emotion) unit (1..3 in EmoNet-Face), the blind
answers; for an adjudication it is the version. `changed_at` is when the row last changed: an
answer its author changed in the app (audit action change_answer) keeps its first answered_at
and gets the last change's time here; every other row was never changed (a version is
replaced by the next one, not edited; an import that replaces an answer records no time per
answer) and has changed_at = answered_at.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

from django.db.models import F, Max, OuterRef, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber

from annotator.models import Dataset
from review.models import Adjudication, Annotation, AuditEvent, BinaryVote, BlindAnswer

KIND_BLIND = "blind_first_answer"
KIND_ANSWER = "answer"
KIND_VOTE = "binary_vote"
KIND_ADJUDICATION = "adjudication"
# Rows of the same moment and id come in this order: what a person said first, then their
# answers, the votes, and the decisions made from them.
KINDS = (KIND_BLIND, KIND_ANSWER, KIND_VOTE, KIND_ADJUDICATION)
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
SOURCE_APP = Annotation.Source.APP.value
# review.services.history.CHANGE_ANSWER (a selector does not import the services).
CHANGE_ANSWER_ACTION = "change_answer"


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
    answered_at: datetime  # when the row was first saved (a change does not move it)
    source: str  # app | import
    round: int
    method: str | None  # adjudications: person | consensus | adjudicator
    reverted: bool | None  # adjudications: the version was undone
    changed_at: datetime  # added last (scripts read columns by place too): the last change


ANSWER_COLUMNS: tuple[str, ...] = AnswerExportRow._fields


class _Ordered(NamedTuple):
    """A row with what orders it: its time, its own table's id, its kind's place."""

    at: datetime
    row_id: int
    kind_order: int
    row: AnswerExportRow


def answers_export_count(*, dataset: Dataset) -> int:
    """How many rows the answers export of `dataset` writes (four counts)."""
    return sum(
        model.objects.filter(sample__dataset=dataset).count()  # type: ignore[attr-defined]
        for model in (BlindAnswer, Annotation, BinaryVote, Adjudication)
    )


def iter_answer_batches(*, dataset: Dataset, batch_size: int) -> Iterator[list[AnswerExportRow]]:
    """The rows in lists of `batch_size` (the last one shorter), in time order: answered_at,
    then id, then KINDS order. The caller holds the snapshot."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    streams = [
        read(dataset=dataset, chunk_size=batch_size)
        for read in (_blind_rows, _answer_rows, _vote_rows, _adjudication_rows)
    ]
    merged = (ordered.row for ordered in heapq.merge(*streams))
    while batch := list(islice(merged, batch_size)):
        yield batch


def _rank(*partition: str) -> Window:
    """The row's place among its partition's rows in the order they were saved (ids grow)."""
    return Window(RowNumber(), partition_by=[F(p) for p in partition], order_by=[F("id").asc()])


def _in_time_order(qs: QuerySet[Any], at: str, *fields: str, chunk_size: int) -> Iterable[Any]:
    """`fields` of the rows in (time, id) order, read through a cursor chunk by chunk."""
    return qs.order_by(at, "id").values_list(*fields).iterator(chunk_size=chunk_size)


def _text(value: str) -> str | None:
    return value or None


def _spent(value: int) -> int | None:
    return value or None


def _blind_rows(*, dataset: Dataset, chunk_size: int) -> Iterator[_Ordered]:
    qs = BlindAnswer.objects.filter(sample__dataset=dataset).annotate(n=_rank("sample_id"))
    order = _KIND_ORDER[KIND_BLIND]
    for pk, sid, ext, who, emotion, conf, bg, attr, subj, spent, at, n in _in_time_order(
        qs, "answered_at", "id", "sample_id", "sample__external_id", "annotator__username",
        "emotion", "confidence", "background", "attribute", "subject", "time_spent_ms",
        "answered_at", "n", chunk_size=chunk_size,
    ):  # fmt: skip
        yield _Ordered(at, pk, order, AnswerExportRow(
            sid, ext, who, KIND_BLIND, emotion, None, None, conf, _text(bg), _text(attr),
            _text(subj), None, _spent(spent), at, SOURCE_APP, n, None, None, at,
        ))  # fmt: skip


def _last_change() -> Subquery:
    """When the answer's author last changed it (their change_answer events on its sample)."""
    changes = AuditEvent.objects.filter(
        sample_id=OuterRef("sample_id"), actor_id=OuterRef("annotator_id"),
        action=CHANGE_ANSWER_ACTION,
    ).order_by().values("sample_id").annotate(last=Max("at")).values("last")  # fmt: skip
    return Subquery(changes[:1])


def _answer_rows(*, dataset: Dataset, chunk_size: int) -> Iterator[_Ordered]:
    qs = Annotation.objects.filter(sample__dataset=dataset).annotate(
        n=_rank("sample_id"), changed=Coalesce(_last_change(), F("created_at"))
    )
    order = _KIND_ORDER[KIND_ANSWER]
    for pk, sid, ext, who, emotion, number, conf, bg, attr, subj, notes, spent, at, src, n, ch in (
        _in_time_order(
            qs, "created_at", "id", "sample_id", "sample__external_id", "annotator__username",
            "emotion", "value_number", "confidence", "background", "attribute", "subject",
            "notes", "time_spent_ms", "created_at", "source", "n", "changed",
            chunk_size=chunk_size,
        )
    ):  # fmt: skip
        yield _Ordered(at, pk, order, AnswerExportRow(
            sid, ext, who, KIND_ANSWER, _text(emotion), None, number, conf, _text(bg),
            _text(attr), _text(subj), _text(notes), _spent(spent), at, src, n, None, None,
            max(ch, at),
        ))  # fmt: skip


def _vote_rows(*, dataset: Dataset, chunk_size: int) -> Iterator[_Ordered]:
    qs = BinaryVote.objects.filter(sample__dataset=dataset).annotate(
        n=_rank("sample_id", "emotion")
    )
    order = _KIND_ORDER[KIND_VOTE]
    for pk, sid, ext, who, emotion, value, src, at, n in _in_time_order(
        qs, "created_at", "id", "sample_id", "sample__external_id", "annotator__username",
        "emotion", "value", "source", "created_at", "n", chunk_size=chunk_size,
    ):  # fmt: skip
        yield _Ordered(at, pk, order, AnswerExportRow(
            sid, ext, who, KIND_VOTE, emotion, value, None, None, None, None, None, None, None,
            at, src, n, None, None, at,
        ))  # fmt: skip


def _adjudication_rows(*, dataset: Dataset, chunk_size: int) -> Iterator[_Ordered]:
    qs = Adjudication.objects.filter(sample__dataset=dataset)
    order = _KIND_ORDER[KIND_ADJUDICATION]
    for pk, sid, ext, who, info, emotion, conf, bg, attr, subj, notes, spent, at, v, how, off in (
        _in_time_order(
            qs, "decided_at", "id", "sample_id", "sample__external_id", "annotator__username",
            "details", "emotion", "confidence", "background", "attribute", "subject", "notes",
            "time_spent_ms", "decided_at", "version", "method", "reverted",
            chunk_size=chunk_size,
        )
    ):  # fmt: skip
        yield _Ordered(at, pk, order, AnswerExportRow(
            sid, ext, who or _people(info), KIND_ADJUDICATION, emotion, None, None, conf,
            _text(bg), _text(attr), _text(subj), _text(notes), _spent(spent), at, SOURCE_APP,
            v, how, off, at,
        ))  # fmt: skip


def _people(details: Any) -> str | None:
    """A consensus has no single person: the people whose answers agreed, as the label
    export's annotator column names them."""
    if not isinstance(details, dict):
        return None
    return ";".join(str(p) for p in details.get("annotators") or []) or None
