"""The answers export: every human answer and vote, one row each, read back with pandas and
pyarrow; kinds, rounds, sources, formulas, batching and query counts."""

from __future__ import annotations

import io
from datetime import UTC, datetime
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
from review.models import Adjudication, Annotation, BinaryVote, BlindAnswer
from review.selectors.export_answers import ANSWER_COLUMNS, answers_export_count
from review.services.export_answers import export_answers_to_path, iter_answers_export
from tests import factories

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
    return dataset


def csv_frame(dataset: Dataset, **kw: Any) -> pd.DataFrame:
    data = b"".join(c.data for c in iter_answers_export(dataset=dataset, fmt="csv", **kw))
    return pd.read_csv(io.BytesIO(data), **PANDAS_READ)


def test_every_answer_is_one_row_in_sample_kind_and_round_order(dataset):
    frame = csv_frame(dataset)
    assert list(frame.columns) == list(ANSWER_COLUMNS)
    got = list(frame[["external_id", "kind", "annotator", "emotion", "round"]].itertuples(False))
    assert [tuple(None if pd.isna(v) else v for v in row) for row in got] == [
        ("00042", "blind_first_answer", "bo", "fear", 1),
        ("00042", "answer", "bo", "awe", 1),
        ("00042", "answer", "ana", "awe", 2),
        ("00042", "adjudication", "bo;ana", "awe", 1),
        ("00042", "adjudication", "cy", "fear", 2),
        ("img-2", "answer", "cy", None, 1),
        ("img-2", "binary_vote", "ana", "Anger", 1),
        ("img-2", "binary_vote", "bo", "Anger", 2),
        ("img-2", "binary_vote", "cy", "Awe", 1),
    ]
    assert len(frame) == answers_export_count(dataset=dataset) == 9


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
    assert votes == [("ana", "Anger", True), ("bo", "Anger", False), ("cy", "Awe", True)]
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


def test_one_chunk_per_batch_and_a_constant_number_of_queries(dataset, settings):
    settings.EXPORT_BATCH_SIZE = 1
    with CaptureQueriesContext(connection) as ctx:
        chunks = list(iter_answers_export(dataset=dataset, fmt="csv"))
    # Header, then one chunk per sample with answers (the quiet sample's batch yields none).
    assert [c.rows for c in chunks] == [0, 5, 4]
    selects = [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # Samples in id order 00042, quiet, img-2, one per batch: five reads per batch (its
    # samples, then one per answer table) and a last, empty read of samples.
    assert len(selects) == 4 + 4 * 3


def test_parquet_leaves_row_group_by_row_group(dataset, settings):
    settings.EXPORT_BATCH_SIZE = 1
    chunks = list(iter_answers_export(dataset=dataset, fmt="parquet"))
    assert [c.rows for c in chunks] == [5, 4, 0]
    assert all(c.data for c in chunks[:2])
    meta = pq.ParquetFile(io.BytesIO(b"".join(c.data for c in chunks))).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [5, 4]
