"""The label export: columns, label rules, CSV and Parquet read back, atomic files, batching."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.models import CriticVerdict, Dataset, Region, Sample
from annotator.taxonomy import MIKELS_8_LABELS
from review.models import Adjudication, MaskEdit
from review.services.export import (
    export_columns,
    export_to_path,
    iter_export_batches,
    write_csv,
    write_parquet,
)
from tests import factories
from tests.factories import ProposalFactory, RegionFactory, UserFactory
from tests.review.services.soft_labels import make_fit

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2025, 3, 2, 8, 30, 0, tzinfo=UTC)
T2 = datetime(2025, 3, 3, 9, 45, 0, tzinfo=UTC)


# Typed wrappers: factory_boy's call returns the model instance, its stubs say the factory.
def DatasetFactory(**kw: Any) -> Dataset:
    return cast(Dataset, factories.DatasetFactory(**kw))


def SampleFactory(**kw: Any) -> Sample:
    return cast(Sample, factories.SampleFactory(**kw))


def AdjudicationFactory(**kw: Any) -> Adjudication:
    return cast(Adjudication, factories.AdjudicationFactory(**kw))


def CriticVerdictFactory(**kw: Any) -> CriticVerdict:
    return cast(CriticVerdict, factories.CriticVerdictFactory(**kw))


def des_vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(1024).astype("<f4")


@dataclass
class World:
    dataset: Dataset
    adjudicated: Sample
    agreed: Sample
    tie: Sample
    dropped: Sample
    disputed: Sample
    pending: Sample


def propose(sample: Sample, model: str, emotion: str, confidence: float, **kw: str) -> None:
    ProposalFactory(
        sample=sample,
        model_name=model,
        emotion=emotion,
        confidence=confidence,
        description=kw.get("description", f"{model} sees {emotion}"),
        background=kw.get("background", f"{model}-bg"),
        attribute=kw.get("attribute", f"{model}-attr"),
        subject=kw.get("subject", f"{model}-subj"),
    )


def make_world() -> World:
    """One sample per rule; gemini weighs more than gpt-4o, claude and llava weigh 1.0."""
    dataset = DatasetFactory(name="emo-export", model_weights={"gemini": 1.5, "gpt-4o": 1.0})

    adjudicated = SampleFactory(dataset=dataset, status=Sample.Status.ADJUDICATED, source="EmoSet")
    propose(adjudicated, "gpt-4o", "awe", 7.0, description='Snow, "wide", open\nplain')
    propose(adjudicated, "gemini", "fear", 5.0)
    older = AdjudicationFactory(
        sample=adjudicated, annotator=UserFactory(username="bea", password=None)
    )
    latest = AdjudicationFactory(
        sample=adjudicated,
        annotator=UserFactory(username="ana", password=None),
        emotion="awe",
        confidence=9.5,
        background="white plain",
        attribute="tiny",
        subject="hiker",
    )
    Adjudication.objects.filter(pk=older.pk).update(decided_at=T0, emotion="fear")
    Adjudication.objects.filter(pk=latest.pk).update(decided_at=T1)
    RegionFactory(sample=adjudicated, role=Region.Role.SUBJECT, phrase="hiker", x1=1, y1=2, x2=3)
    RegionFactory(
        sample=adjudicated, role=Region.Role.BACKGROUND, phrase="plain", mask={"size": [1, 1]}
    )
    RegionFactory(sample=adjudicated, role=Region.Role.ATTRIBUTE, phrase="no box", x1=None)
    CriticVerdictFactory(sample=adjudicated, verdict=CriticVerdict.Verdict.PRESERVE)

    agreed = SampleFactory(
        dataset=dataset,
        status=Sample.Status.AGREED,
        suggested_emotion="contentment",
        source="FI",
        des=des_vector(1).tobytes(),
    )
    propose(agreed, "gpt-4o", "contentment", 6.0)
    propose(agreed, "gemini", "contentment", 9.0)

    tie = SampleFactory(dataset=dataset, status=Sample.Status.AGREED, suggested_emotion="awe")
    propose(tie, "llava", "awe", 4.0)
    propose(tie, "claude", "awe", 5.0)

    dropped = SampleFactory(dataset=dataset, status=Sample.Status.DROPPED, source="")
    propose(dropped, "gpt-4o", "anger", 3.0)
    revise = CriticVerdictFactory(sample=dropped, verdict=CriticVerdict.Verdict.REVISE)
    drop = CriticVerdictFactory(sample=dropped, verdict=CriticVerdict.Verdict.DROP)
    CriticVerdict.objects.filter(pk=revise.pk).update(created_at=T1)
    CriticVerdict.objects.filter(pk=drop.pk).update(created_at=T2)

    disputed = SampleFactory(
        dataset=dataset, status=Sample.Status.DISPUTED, des=des_vector(2).tobytes()
    )
    propose(disputed, "gpt-4o", "awe", 8.0)
    propose(disputed, "gemini", "fear", 6.0)

    pending = SampleFactory(dataset=dataset, status=Sample.Status.PENDING)
    for sample in (agreed, tie, disputed, pending):
        sample.refresh_from_db()
    return World(dataset, adjudicated, agreed, tie, dropped, disputed, pending)


@pytest.fixture
def world(db) -> World:
    return make_world()


def rows_by_id(world: World, scope: str) -> dict[int, dict[str, object]]:
    rows = [
        row for batch in iter_export_batches(dataset=world.dataset, scope=scope) for row in batch
    ]
    return {int(row["sample_id"]): row for row in rows}  # type: ignore[call-overload]


EXPECTED_COLUMNS = [
    "sample_id",
    "external_id",
    "image_path",
    "source",
    "status",
    "emotion",
    "confidence",
    "background",
    "attribute",
    "subject",
    "description",
    "bbox",
    "decided_by",
    "annotator",
    "decided_at",
    "emotion_claude",
    "emotion_gemini",
    "emotion_gpt-4o",
    "emotion_llava",
    "critic_verdict",
]
MODELS = ("claude", "gemini", "gpt-4o", "llava")
# The CSV: the label columns, then every model's own answer (one block per field), the critic's
# verdict with its reasoning, notes, size, hash and licence.
CSV_COLUMNS = [
    *EXPECTED_COLUMNS[:15],
    *(
        f"{field}_{model}"
        for field in ("emotion", "confidence", "background", "attribute", "subject", "description")
        for model in MODELS
    ),
    "critic_verdict",
    "critic_emotion",
    "critic_reasoning",
    "critic_instructions",
    "notes",
    "width",
    "height",
    "content_hash",
    "licence",
    # the soft labels (export_posterior): filled only with a latent-class fit
    "label_source",
    "posterior_entropy",
    *(f"posterior_{label}" for label in MIKELS_8_LABELS),
]


def test_columns_have_one_block_per_field_with_a_column_per_proposing_model_sorted(world):
    assert export_columns(dataset=world.dataset) == CSV_COLUMNS


def test_columns_ignore_models_of_other_datasets(world):
    ProposalFactory(sample=SampleFactory(), model_name="elsewhere")
    assert "emotion_elsewhere" not in export_columns(dataset=world.dataset)


def test_scope_decided_holds_adjudicated_and_agreed_only_in_id_order(world):
    rows = rows_by_id(world, "decided")
    assert list(rows) == sorted([world.adjudicated.pk, world.agreed.pk, world.tie.pk])


def test_scope_all_holds_every_sample_with_its_status(world):
    rows = rows_by_id(world, "all")
    assert {pk: row["status"] for pk, row in rows.items()} == {
        world.adjudicated.pk: "adjudicated",
        world.agreed.pk: "agreed",
        world.tie.pk: "agreed",
        world.dropped.pk: "dropped",
        world.disputed.pk: "disputed",
        world.pending.pk: "pending",
    }


def test_unknown_scope_is_refused(world):
    with pytest.raises(ValueError, match="unknown export scope 'some'"):
        list(iter_export_batches(dataset=world.dataset, scope="some"))


def test_adjudicated_row_takes_the_latest_adjudication(world):
    row = rows_by_id(world, "decided")[world.adjudicated.pk]
    assert row["external_id"] == world.adjudicated.external_id
    assert row["image_path"] == world.adjudicated.image_path
    assert row["source"] == "EmoSet"
    assert (row["emotion"], row["confidence"]) == ("awe", 9.5)
    assert (row["background"], row["attribute"], row["subject"]) == ("white plain", "tiny", "hiker")
    assert (row["decided_by"], row["annotator"], row["decided_at"]) == ("person", "ana", T1)
    # The description comes from the proposal that named the decided emotion.
    assert row["description"] == 'Snow, "wide", open\nplain'
    assert row["emotion_gpt-4o"] == "awe"
    assert row["emotion_gemini"] == "fear"
    assert row["emotion_claude"] is None
    assert row["critic_verdict"] == "preserve"


def test_bbox_lists_boxed_regions_with_their_masks(world):
    row = rows_by_id(world, "decided")[world.adjudicated.pk]
    assert json.loads(str(row["bbox"])) == [
        {"role": "subject", "phrase": "hiker", "box": [1.0, 2.0, 3.0, 40.0]},
        {
            "role": "background",
            "phrase": "plain",
            "box": [4.0, 4.0, 40.0, 40.0],
            "mask": {"size": [1, 1]},
            "segmenter": "",
        },
    ]
    assert rows_by_id(world, "decided")[world.agreed.pk]["bbox"] == "[]"


def test_agreed_row_takes_the_mean_and_the_highest_weighted_proposal(world):
    row = rows_by_id(world, "decided")[world.agreed.pk]
    assert (row["emotion"], row["confidence"]) == ("contentment", 7.5)
    assert (row["background"], row["attribute"], row["subject"]) == (
        "gemini-bg",
        "gemini-attr",
        "gemini-subj",
    )
    assert row["description"] == "gemini sees contentment"
    assert (row["decided_by"], row["annotator"]) == ("models", None)
    assert row["decided_at"] == world.agreed.updated_at
    assert row["critic_verdict"] is None


def test_agreed_tie_in_weight_goes_to_the_first_model_name(world):
    row = rows_by_id(world, "decided")[world.tie.pk]
    assert row["subject"] == "claude-subj"
    assert row["confidence"] == 4.5


def test_dropped_row_is_decided_by_the_critic_without_a_label(world):
    row = rows_by_id(world, "all")[world.dropped.pk]
    assert (row["decided_by"], row["decided_at"], row["critic_verdict"]) == ("critic", T2, "drop")
    assert row["emotion"] is None and row["confidence"] is None
    assert row["source"] is None
    assert row["emotion_gpt-4o"] == "anger"


def test_dropped_row_without_a_drop_verdict_has_no_decider(world):
    CriticVerdict.objects.filter(sample=world.dropped, verdict="drop").delete()
    row = rows_by_id(world, "all")[world.dropped.pk]
    assert row["decided_by"] is None
    assert row["critic_verdict"] == "revise"


def test_disputed_and_pending_rows_have_no_label_but_keep_model_emotions(world):
    rows = rows_by_id(world, "all")
    disputed, pending = rows[world.disputed.pk], rows[world.pending.pk]
    for row in (disputed, pending):
        assert row["emotion"] is None
        assert row["decided_by"] is None
        assert row["decided_at"] is None
        assert row["description"] is None
    assert (disputed["emotion_gpt-4o"], disputed["emotion_gemini"]) == ("awe", "fear")
    assert pending["emotion_gpt-4o"] is None


def read_csv(world: World, scope: str) -> tuple[int, list[dict[str, str]], list[str]]:
    out = io.StringIO(newline="")
    written = write_csv(dataset=world.dataset, scope=scope, out=out)
    reader = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    rows = list(reader)
    return written, rows, list(reader.fieldnames or [])


def test_csv_reads_back_with_every_column(world):
    written, rows, header = read_csv(world, "all")
    assert written == len(rows) == 6
    assert header == CSV_COLUMNS
    by_id = {int(row["sample_id"]): row for row in rows}
    adjudicated = by_id[world.adjudicated.pk]
    assert adjudicated["description"] == 'Snow, "wide", open\nplain'
    assert float(adjudicated["confidence"]) == 9.5
    assert datetime.fromisoformat(adjudicated["decided_at"]) == T1
    assert json.loads(adjudicated["bbox"])[0]["phrase"] == "hiker"
    assert adjudicated["critic_verdict"] == "preserve"
    disputed = by_id[world.disputed.pk]
    assert (disputed["emotion"], disputed["decided_by"], disputed["decided_at"]) == ("", "", "")
    assert disputed["emotion_gemini"] == "fear"
    assert "DES" not in header


def test_csv_scope_decided(world):
    written, rows, _ = read_csv(world, "decided")
    assert written == 3
    assert {row["decided_by"] for row in rows} == {"person", "models"}


def test_parquet_reads_back_with_real_types(world, tmp_path: Path):
    path = tmp_path / "labels.parquet"
    assert write_parquet(dataset=world.dataset, scope="all", path=path) == 6
    table = pq.read_table(path)
    # Parquet has its own columns (test_export_parquet.py): structs, not the CSV's JSON text.
    assert table.column_names[:5] == EXPECTED_COLUMNS[:5]
    assert "bbox" not in table.column_names
    schema = table.schema
    assert schema.field("sample_id").type == pa.int64()
    assert schema.field("confidence").type == pa.float64()
    assert schema.field("decided_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("emotion").type == pa.string()
    assert schema.field("emotion").nullable
    assert schema.field("DES").type == pa.list_(pa.float32(), 1024)
    by_id = {row["sample_id"]: row for row in table.to_pylist()}
    adjudicated = by_id[world.adjudicated.pk]
    assert (adjudicated["emotion"], adjudicated["confidence"]) == ("awe", 9.5)
    assert adjudicated["decided_at"] == T1
    assert adjudicated["regions"][1]["role"] == "background"
    assert by_id[world.disputed.pk]["emotion"] is None
    assert by_id[world.dropped.pk]["decided_at"] == T2


def test_parquet_des_holds_the_stored_float32_values_or_null(world, tmp_path: Path):
    path = tmp_path / "labels.parquet"
    write_parquet(dataset=world.dataset, scope="all", path=path)
    table = pq.read_table(path, columns=["sample_id", "DES"])
    des = dict(zip(table["sample_id"].to_pylist(), table["DES"].to_pylist(), strict=True))
    for sample, seed in ((world.agreed, 1), (world.disputed, 2)):
        got = np.asarray(des[sample.pk], dtype="<f4")
        assert got.shape == (1024,)
        np.testing.assert_array_equal(got, des_vector(seed))
    assert des[world.adjudicated.pk] is None
    assert des[world.pending.pk] is None


def test_parquet_writes_one_row_group_per_batch(world, tmp_path: Path, settings):
    settings.EXPORT_BATCH_SIZE = 4
    path = tmp_path / "labels.parquet"
    write_parquet(dataset=world.dataset, scope="all", path=path)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 2]


def test_empty_export_keeps_the_schema(db, tmp_path: Path):
    dataset = DatasetFactory()
    path = tmp_path / "empty.parquet"
    assert write_parquet(dataset=dataset, scope="decided", path=path) == 0
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.field("DES").type == pa.list_(pa.float32(), 1024)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_to_path_replaces_the_file(world, tmp_path: Path, fmt: str):
    path = tmp_path / f"labels.{fmt}"
    path.write_text("old")
    assert export_to_path(dataset=world.dataset, scope="decided", fmt=fmt, path=path) == 3
    assert path.read_bytes() != b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_failed_export_leaves_the_old_file_and_no_partial(world, tmp_path: Path, settings):
    settings.EXPORT_BATCH_SIZE = 2  # the bad vector is in a later batch: a partial file existed
    Sample.objects.filter(pk=world.pending.pk).update(des=b"\x00" * 10)
    path = tmp_path / "labels.parquet"
    path.write_text("old")
    with pytest.raises(ValueError, match=r"DES holds 10 bytes, expected 4096"):
        export_to_path(dataset=world.dataset, scope="all", fmt="parquet", path=path)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_export_to_path_refuses_an_unknown_format(world, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        export_to_path(dataset=world.dataset, scope="all", fmt="xlsx", path=tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def make_rich_samples(dataset: Dataset, count: int) -> None:
    """Samples with everything an export reads: proposals, adjudications, verdicts, regions."""
    annotator = UserFactory(password=None)
    for _ in range(count):
        sample = SampleFactory(dataset=dataset, status=Sample.Status.ADJUDICATED)
        propose(sample, "gpt-4o", "awe", 7.0)
        propose(sample, "gemini", "awe", 8.0)
        factories.AdjudicationFactory.create_batch(2, sample=sample, annotator=annotator)
        factories.CriticVerdictFactory.create_batch(2, sample=sample)
        RegionFactory.create_batch(2, sample=sample)
        for seq in (1, 2):  # accepted masks (review/services/masks.py)
            MaskEdit.objects.create(
                sample=sample, role="subject", seq=seq, status="done", accepted_at=T1,
                candidates=[{"rle": {"size": [1, 1], "counts": "01"}, "score": 1.0}],
            )  # fmt: skip


def queries_to_export(dataset: Dataset) -> int:
    with CaptureQueriesContext(connection) as ctx:
        batches = list(iter_export_batches(dataset=dataset, scope="all"))
    assert all(len(batch) <= 2 for batch in batches)
    return len(ctx.captured_queries)


def test_queries_per_batch_are_constant(db, settings, django_assert_max_num_queries):
    settings.EXPORT_BATCH_SIZE = 2
    small, large = DatasetFactory(), DatasetFactory()
    make_rich_samples(small, 3)  # 2 batches
    make_rich_samples(large, 9)  # 5 batches
    small_queries, large_queries = queries_to_export(small), queries_to_export(large)
    # Once: the model names, the taxonomy, the latest fit; then six per batch: samples + five
    # related tables (a seventh, the posteriors, only when there is a fit).
    assert (large_queries - small_queries) == 6 * (5 - 2)
    with django_assert_max_num_queries(3 + 6 * 5):
        list(iter_export_batches(dataset=large, scope="all"))
    make_fit(large, {s: [1.0] + [0.0] * 7 for s in large.samples.all()})
    assert queries_to_export(large) - large_queries == 5  # one posterior read a batch


def test_an_agreed_row_takes_its_triplet_from_a_proposal_that_has_one(db):
    # A classifier's label has no text and won the name tie ("emovit" < "gemini"): 3 of 5
    # agreed demo rows exported empty background/attribute/subject/description.
    dataset = DatasetFactory(name="emo-classifier", model_weights={})
    sample = SampleFactory(dataset=dataset, status=Sample.Status.AGREED, suggested_emotion="awe")
    empty = {"description": "", "background": "", "attribute": "", "subject": ""}
    propose(sample, "emovit", "awe", 0.0, **empty)
    propose(sample, "gemini", "awe", 7.0)
    propose(sample, "gpt-4o", "awe", 6.0)
    (row,) = [r for batch in iter_export_batches(dataset=dataset, scope="decided") for r in batch]
    assert (row["background"], row["subject"]) == ("gemini-bg", "gemini-subj")
    assert row["description"] == "gemini sees awe"
