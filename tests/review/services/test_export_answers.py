"""The answers export: every human answer and vote, one row each, read back with pandas and
pyarrow; time order, changed answers, kinds, rounds, sources, formulas, batching and query
counts."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.models import Dataset, Sample
from review.labels import Label
from review.models import Adjudication, Annotation, AuditEvent, BinaryVote, BlindAnswer
from review.roles import ANNOTATOR
from review.selectors.export_answers import ANSWER_COLUMNS, answers_export_count
from review.services.consensus import submit_answer
from review.services.export_answers import export_answers_to_path, iter_answers_export
from review.services.own_answers import change_own_answer
from tests import factories
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

T1 = datetime(2025, 4, 1, 9, 0, 0, tzinfo=UTC)
# What docs/formats.md tells pandas users to pass for the answers CSV.
TEXT = ["external_id", "annotator", "kind", "emotion", "background", "attribute", "subject"]
PANDAS_READ: dict[str, Any] = {
    "dtype": {
        **dict.fromkeys([*TEXT, "notes", "source", "method"], "string"),
        "vote": "boolean",
        "reverted": "boolean",
        "time_spent_ms": "Int64",
    },
    "keep_default_na": False,
    "na_values": [""],
    "parse_dates": ["answered_at"],
}


def user(name: str) -> User:
    return cast(User, factories.UserFactory(username=name, password=None))


def sample(dataset: Dataset, external_id: str, **kw: Any) -> Sample:
    return cast(Sample, factories.SampleFactory(dataset=dataset, external_id=external_id, **kw))


@pytest.fixture
def dataset(db) -> Dataset:
    """Two samples with every kind of answer, and one sample without any."""
    dataset = cast(Dataset, factories.DatasetFactory(name="answers"))
    ana, bo, cy = user("ana"), user("bo"), user("cy")
    first = sample(dataset, "00042", status=Sample.Status.ADJUDICATED)
    sample(dataset, "quiet")
    second = sample(dataset, "img-2")
    BlindAnswer.objects.create(
        sample=first, annotator=bo, emotion="fear", confidence=4, subject="dog",
        time_spent_ms=1500,
    )  # fmt: skip
    Annotation.objects.create(
        sample=first, annotator=bo, emotion="awe", confidence=6, background="plain",
        attribute="wide", subject="hiker", notes="=HYPERLINK(1)", time_spent_ms=2500,
    )  # fmt: skip
    Annotation.objects.create(sample=first, annotator=ana, emotion="awe", confidence=8)
    consensus = factories.AdjudicationFactory(
        sample=first, annotator=None, method="consensus", version=1, reverted=True,
        details={"annotators": ["bo", "ana"]}, notes="",
    )  # fmt: skip
    factories.AdjudicationFactory(
        sample=first, annotator=cy, method="adjudicator", version=2, emotion="fear",
        notes="the dog", time_spent_ms=9000,
    )  # fmt: skip
    Adjudication.objects.filter(pk=cast(Adjudication, consensus).pk).update(decided_at=T1)
    for who, value, emotion in [(ana, True, "Anger"), (bo, False, "Anger"), (cy, True, "Awe")]:
        BinaryVote.objects.create(sample=second, annotator=who, emotion=emotion, value=value)
    Annotation.objects.create(sample=second, annotator=cy, value_number=-2.5, source="import")
    _stamp_times(dataset)
    return dataset


def at(seconds: int) -> datetime:
    return T1 + timedelta(seconds=seconds)


def _stamp_times(dataset: Dataset) -> None:
    """Times out of sample order (and two ties), so time order is not sample or id order."""
    mine = {"sample__dataset": dataset}
    BlindAnswer.objects.filter(**mine).update(answered_at=at(60))
    Annotation.objects.filter(**mine, annotator__username__in=["bo", "ana"]).update(
        created_at=at(120)
    )
    Annotation.objects.filter(**mine, annotator__username="cy").update(created_at=at(20))
    BinaryVote.objects.filter(**mine).update(created_at=at(180))
    BinaryVote.objects.filter(**mine, annotator__username="bo").update(created_at=at(30))
    Adjudication.objects.filter(**mine, version=2).update(decided_at=at(600))


def csv_frame(dataset: Dataset, parse_dates: list[str] | None = None, **kw: Any) -> pd.DataFrame:
    data = b"".join(c.data for c in iter_answers_export(dataset=dataset, fmt="csv", **kw))
    read = PANDAS_READ | ({"parse_dates": parse_dates} if parse_dates else {})
    return pd.read_csv(io.BytesIO(data), **read)


def test_every_answer_is_one_row_in_time_then_id_order(dataset):
    frame = csv_frame(dataset, parse_dates=["answered_at", "changed_at"])
    assert list(frame.columns) == list(ANSWER_COLUMNS)
    assert list(frame.columns[-1:]) == ["changed_at"]  # added last: old columns keep places
    got = list(frame[["external_id", "kind", "annotator", "emotion", "round"]].itertuples(False))
    assert [tuple(None if pd.isna(v) else v for v in row) for row in got] == [
        ("00042", "adjudication", "bo;ana", "awe", 1),  # T1
        ("img-2", "answer", "cy", None, 1),  # +20 s
        ("img-2", "binary_vote", "bo", "Anger", 2),  # +30 s; its round is still its place
        ("00042", "blind_first_answer", "bo", "fear", 1),  # +1 min
        ("00042", "answer", "bo", "awe", 1),  # +2 min, the lower id first
        ("00042", "answer", "ana", "awe", 2),
        ("img-2", "binary_vote", "ana", "Anger", 1),  # +3 min, by id
        ("img-2", "binary_vote", "cy", "Awe", 1),
        ("00042", "adjudication", "cy", "fear", 2),  # +10 min
    ]
    assert frame["answered_at"].is_monotonic_increasing
    assert (frame["changed_at"] == frame["answered_at"]).all()  # nothing here was changed
    assert len(frame) == answers_export_count(dataset=dataset) == 9


def test_a_changed_answer_keeps_answered_at_and_gets_changed_at(db):
    """The new user's case: answered 19:24:18, changed 19:25:14 through the app's own
    change; answered_at stays, changed_at is the change (CSV and Parquet)."""
    dataset = cast(Dataset, factories.DatasetFactory(name="changes", overlap_k=2))
    first, second = sample(dataset, "s1"), sample(dataset, "s2")
    ana, bo = member(ANNOTATOR), member(ANNOTATOR)
    for person in (ana, bo):
        lease(first, person)
        submit_answer(sample=first, annotator=person, label=Label(emotion="awe", confidence=5.0))
    lease(second, ana)
    submit_answer(sample=second, annotator=ana, label=Label(emotion="fear", confidence=5.0))
    change_own_answer(sample=second, annotator=ana, label=Label(emotion="awe", confidence=7.0))
    answered, changed = (
        datetime(2026, 12, 4, 19, 24, 18, tzinfo=UTC),
        datetime(2026, 12, 4, 19, 25, 14, tzinfo=UTC),
    )
    Annotation.objects.filter(sample=second).update(created_at=answered)
    Annotation.objects.filter(sample=first).update(created_at=answered + timedelta(seconds=20))
    AuditEvent.objects.filter(action="change_answer").update(at=changed)

    frame = csv_frame(dataset, parse_dates=["answered_at", "changed_at"])
    rows = {(r.external_id, r.annotator): r for r in frame.itertuples()}
    got = rows[("s2", ana.username)]
    assert (got.emotion, got.confidence) == ("awe", 7.0)
    assert got.answered_at == pd.Timestamp(answered) and got.changed_at == pd.Timestamp(changed)
    never = rows[("s1", bo.username)]
    assert never.changed_at == never.answered_at == pd.Timestamp(answered + timedelta(seconds=20))
    answers = frame[frame["kind"] == "answer"]  # s1's two agreeing answers made a consensus too
    assert list(answers["external_id"]) == ["s2", "s1", "s1"]  # answered_at order, not changed

    table = pq.read_table(io.BytesIO(b"".join(
        c.data for c in iter_answers_export(dataset=dataset, fmt="parquet")
    )))  # fmt: skip
    assert table.schema.field("changed_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("changed_at").to_pylist()[0] == changed


def test_values_sources_and_times(dataset):
    frame = csv_frame(dataset)
    by = {(r.kind, r.annotator, r.round): r for r in frame.itertuples()}
    answer = by[("answer", "bo", 1)]
    assert (answer.confidence, answer.background, answer.subject) == (6.0, "plain", "hiker")
    assert (answer.time_spent_ms, answer.source) == (2500, "app")
    assert answer.notes == "'=HYPERLINK(1)"  # the formula guard
    assert pd.isna(by[("answer", "ana", 2)].time_spent_ms)  # 0 stored: not recorded
    numeric = by[("answer", "cy", 1)]
    assert (numeric.value_number, numeric.source) == (-2.5, "import")
    vote = by[("binary_vote", "bo", 2)]
    assert not pd.isna(vote.vote) and bool(vote.vote) is False
    assert pd.isna(answer.vote) and pd.isna(answer.reverted)
    consensus = by[("adjudication", "bo;ana", 1)]
    assert (consensus.method, consensus.reverted) == ("consensus", True)
    assert consensus.answered_at == pd.Timestamp(T1)
    decision = by[("adjudication", "cy", 2)]
    assert (decision.method, decision.notes, decision.time_spent_ms) == (
        "adjudicator",
        "the dog",
        9000,
    )
    types = frame.dtypes
    assert types["sample_id"] == "int64" and types["round"] == "int64"
    assert types["confidence"] == "float64" and types["value_number"] == "float64"
    assert str(types["answered_at"]).startswith("datetime64") and "UTC" in str(types["answered_at"])
    assert types["external_id"] == "string"
    assert types["vote"] == "boolean" and types["reverted"] == "boolean"
    assert types["time_spent_ms"] == "Int64" and types["notes"] == "string"
    assert frame["external_id"].iloc[0] == "00042"
    assert frame["vote"].sum() == 2  # two yes votes


def test_the_guard_can_be_switched_off(dataset):
    frame = csv_frame(dataset, formula_guard=False)
    assert "=HYPERLINK(1)" in set(frame["notes"])


def test_parquet_has_typed_columns(dataset, tmp_path: Path):
    path = tmp_path / "answers.parquet"
    assert export_answers_to_path(dataset=dataset, fmt="parquet", path=path) == 9
    table = pq.read_table(path)
    schema = table.schema
    assert table.column_names == list(ANSWER_COLUMNS)
    assert schema.field("vote").type == pa.bool_()
    assert schema.field("round").type == pa.int64()
    assert schema.field("answered_at").type == pa.timestamp("us", tz="UTC")
    assert not schema.field("kind").nullable and schema.field("vote").nullable
    rows = table.to_pylist()
    votes = [(r["annotator"], r["emotion"], r["vote"]) for r in rows if r["kind"] == "binary_vote"]
    assert votes == [("bo", "Anger", False), ("ana", "Anger", True), ("cy", "Awe", True)]
    notes = {r["notes"] for r in rows}
    assert "=HYPERLINK(1)" in notes  # Parquet is data: never changed
    frame = pd.read_parquet(path)
    assert str(frame["vote"].dtype) in {"object", "boolean"}
    assert frame["answered_at"].dt.tz is not None


def test_other_datasets_answers_stay_out(dataset):
    elsewhere = cast(Sample, factories.SampleFactory())
    Annotation.objects.create(sample=elsewhere, annotator=user("zed"), emotion="awe")
    assert "zed" not in set(csv_frame(dataset)["annotator"])


def test_an_empty_export_keeps_its_header_and_schema(db, tmp_path: Path):
    dataset = cast(Dataset, factories.DatasetFactory())
    (chunk,) = iter_answers_export(dataset=dataset, fmt="csv")
    assert chunk.data.decode() == ",".join(ANSWER_COLUMNS) + "\n"
    path = tmp_path / "empty.parquet"
    assert export_answers_to_path(dataset=dataset, fmt="parquet", path=path) == 0
    assert pq.read_table(path).column_names == list(ANSWER_COLUMNS)


def test_an_unknown_format_is_refused_before_any_file(dataset, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown answers format 'xlsx'"):
        iter_answers_export(dataset=dataset, fmt="xlsx")
    with pytest.raises(ValueError, match="unknown answers format"):
        export_answers_to_path(dataset=dataset, fmt="xlsx", path=tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("batch_size", "chunks"), [(1, [0] + [1] * 9), (4, [0, 4, 4, 1])])
def test_one_chunk_per_batch_and_four_queries_whatever_the_batches(
    dataset, settings, batch_size, chunks
):
    settings.EXPORT_BATCH_SIZE = batch_size
    with CaptureQueriesContext(connection) as ctx:
        got = list(iter_answers_export(dataset=dataset, fmt="csv"))
    # The header, then one chunk of batch_size rows each (the last one shorter).
    assert [c.rows for c in got] == chunks
    selects = [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # One query per table, read through a cursor in time order and merged.
    assert len(selects) == 4


def test_parquet_leaves_row_group_by_row_group(dataset, settings):
    settings.EXPORT_BATCH_SIZE = 5
    chunks = list(iter_answers_export(dataset=dataset, fmt="parquet"))
    assert [c.rows for c in chunks] == [5, 4, 0]
    assert all(c.data for c in chunks[:2])
    meta = pq.ParquetFile(io.BytesIO(b"".join(c.data for c in chunks))).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [5, 4]
