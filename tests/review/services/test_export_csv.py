"""The CSV's content beyond the label: every model's own answer, the critic's reasoning, notes,
size, hash and licence; pandas reads it with the types the columns hold; decided_at of an agreed
sample does not move on an identical re-import."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from annotator.models import CriticVerdict, Dataset
from annotator.services.demo import import_demo_dataset
from annotator.services.importing import import_samples_file
from review.models import Adjudication
from review.services.export import iter_export_batches, write_csv
from tests.annotator.importers.helpers import proposal, record, write_jsonl
from tests.review.services.test_export import (
    DatasetFactory,
    SampleFactory,
    World,
    make_world,
    propose,
    rows_by_id,
)

pytestmark = pytest.mark.django_db

# How docs/formats.md tells pandas users to read the CSV: ids stay text ("00042"), only empty
# cells are missing (a subject called "NA" stays "NA"), decided_at as UTC times.
NUMBERS = {"sample_id": "int64", "confidence": "float64", "width": "int64", "height": "int64"}


def read_labels(text: str) -> pd.DataFrame:
    """docs/formats.md's recipe: every column its type, text as text even where a column is
    all empty (pandas' own guess is float64 NaN there)."""
    header = pd.read_csv(io.StringIO(text), nrows=0).columns
    dtype = {
        c: NUMBERS.get(c, "float64" if c.startswith("confidence_") else "string")
        for c in header
        if c != "decided_at"
    }
    return pd.read_csv(
        io.StringIO(text, newline=""),
        dtype=dtype,
        keep_default_na=False,
        na_values=[""],
        parse_dates=["decided_at"],
    )


@pytest.fixture
def world(db) -> World:
    world = make_world()
    world.dataset.licence = "CC BY-NC 4.0"
    world.dataset.save(update_fields=["licence"])
    return world


def csv_text(dataset: Dataset, scope: str = "all") -> str:
    out = io.StringIO(newline="")
    write_csv(dataset=dataset, scope=scope, out=out)
    return out.getvalue()


def test_every_model_has_its_own_answer_in_its_columns(world):
    row = rows_by_id(world, "all")[world.adjudicated.pk]
    # The label is the person's "awe"; gemini said fear, and its own answer is kept beside it.
    assert row["emotion"] == "awe"
    assert (row["emotion_gemini"], row["confidence_gemini"]) == ("fear", 5.0)
    assert (row["background_gemini"], row["attribute_gemini"], row["subject_gemini"]) == (
        "gemini-bg",
        "gemini-attr",
        "gemini-subj",
    )
    assert row["description_gemini"] == "gemini sees fear"
    assert (row["emotion_gpt-4o"], row["confidence_gpt-4o"]) == ("awe", 7.0)
    assert row["description_gpt-4o"] == 'Snow, "wide", open\nplain'
    # claude and llava proposed on other samples only: every column of theirs is empty here.
    for model in ("claude", "llava"):
        for field in ("emotion", "confidence", "background", "attribute", "subject"):
            assert row[f"{field}_{model}"] is None


def test_a_models_empty_text_is_missing_not_an_empty_string(db):
    sample = SampleFactory(dataset=DatasetFactory(name="classifier"))
    dataset = sample.dataset
    empty = {"description": "", "background": "", "attribute": "", "subject": ""}
    propose(sample, "emovit", "awe", 0.0, **empty)
    (row,) = [r for batch in iter_export_batches(dataset=dataset, scope="all") for r in batch]
    assert (row["emotion_emovit"], row["confidence_emovit"]) == ("awe", 0.0)
    assert row["subject_emovit"] is None and row["description_emovit"] is None


def test_critic_notes_size_hash_and_licence(world):
    CriticVerdict.objects.filter(sample=world.adjudicated).update(
        emotion="awe", reasoning="wide plain, upward gaze", instructions="check the sky"
    )
    Adjudication.objects.filter(sample=world.adjudicated, emotion="awe").update(
        notes="hiker is tiny"
    )
    rows = rows_by_id(world, "all")
    row = rows[world.adjudicated.pk]
    assert (row["critic_verdict"], row["critic_emotion"]) == ("preserve", "awe")
    assert row["critic_reasoning"] == "wide plain, upward gaze"
    assert row["critic_instructions"] == "check the sky"
    assert row["notes"] == "hiker is tiny"
    assert (row["width"], row["height"]) == (64, 48)
    assert row["content_hash"] == world.adjudicated.content_hash
    assert row["licence"] == "CC BY-NC 4.0"
    pending = rows[world.pending.pk]
    assert pending["critic_verdict"] is pending["critic_reasoning"] is pending["notes"] is None


def test_the_csv_carries_the_new_columns_as_text(world):
    CriticVerdict.objects.filter(sample=world.adjudicated).update(reasoning="line one\nline two")
    rows = list(csv.DictReader(io.StringIO(csv_text(world.dataset), newline="")))
    row = next(r for r in rows if int(r["sample_id"]) == world.adjudicated.pk)
    assert row["critic_reasoning"] == "line one\nline two"
    assert row["confidence_gemini"] == "5.0"
    assert (row["width"], row["height"], row["licence"]) == ("64", "48", "CC BY-NC 4.0")
    assert row["confidence_claude"] == row["notes"] == ""


def test_pandas_reads_the_columns_with_their_types(world):
    world.adjudicated.external_id = "00042"
    world.adjudicated.save(update_fields=["external_id"])
    Adjudication.objects.filter(sample=world.adjudicated).update(subject="NA")
    frame = read_labels(csv_text(world.dataset))
    assert len(frame) == 6
    types = frame.dtypes
    for column in ("sample_id", "width", "height"):
        assert types[column] == "int64", column
    for column in ("confidence", "confidence_gemini", "confidence_claude"):
        assert types[column] == "float64", column
    assert str(types["decided_at"]).startswith("datetime64") and "UTC" in str(types["decided_at"])
    # Text stays text, even in a column no row fills (notes, critic_instructions here).
    for column in ("external_id", "notes", "critic_instructions", "subject_claude", "licence"):
        assert types[column] == "string", column
    assert frame["critic_instructions"].isna().all()
    row = frame.set_index("sample_id").loc[world.adjudicated.pk]
    assert row["external_id"] == "00042"  # not the number 42
    assert row["subject"] == "NA"  # text, not a missing value
    assert row["decided_at"] == pd.Timestamp("2025-03-02T08:30:00Z")
    assert pd.isna(frame.set_index("sample_id").loc[world.pending.pk, "emotion"])
    assert json.loads(row["bbox"])[0]["phrase"] == "hiker"


def test_decided_at_of_an_agreed_sample_survives_an_identical_reimport(tmp_path, images_root):
    """Re-importing the same file changes nothing a person decided, nor when the models'
    agreement became the label (it moved with updated_at on every import)."""
    path = write_jsonl(
        tmp_path / "samples.jsonl",
        record("s1", "a.jpg", proposals=[proposal("m1", "awe"), proposal("m2", "awe")]),
        record("s2", "b.jpg", proposals=[proposal("m1", "awe"), proposal("m2", "fear")]),
    )

    def export() -> list[dict[str, str]]:
        import_samples_file(path=path, dataset_name="emo", images_root=images_root)
        dataset = Dataset.objects.get(name="emo")
        return list(csv.DictReader(io.StringIO(csv_text(dataset), newline="")))

    first, second = export(), export()
    assert [r["status"] for r in first] == ["agreed", "disputed"]
    assert first[0]["decided_at"] != ""
    assert [r["decided_at"] for r in second] == [r["decided_at"] for r in first]
    assert second == first


def test_model_columns_for_one_model_only(db):
    sample = SampleFactory(dataset=DatasetFactory(name="solo"))
    dataset = sample.dataset
    propose(sample, "m", "awe", 3.0)
    header = next(csv.reader(io.StringIO(csv_text(dataset), newline="")))
    assert header[15:21] == [
        "emotion_m",
        "confidence_m",
        "background_m",
        "attribute_m",
        "subject_m",
        "description_m",
    ]


def test_every_agreed_demo_row_has_its_triplet_and_description(db):
    """Issue 11's named bug: 3 of the 5 agreed demo rows exported an empty triplet (a
    classifier's text-less label won the tie); each model's own answer is beside it."""
    import_demo_dataset()
    rows = list(
        csv.DictReader(
            io.StringIO(csv_text(Dataset.objects.get(name="demo"), "decided"), newline="")
        )
    )
    agreed = [r for r in rows if r["status"] == "agreed"]
    assert len(agreed) == 5
    for row in agreed:
        assert all(row[c] for c in ("background", "attribute", "subject", "description")), row
        assert not row["description_emovit"]  # the classifier gives a label only
    # Where the classifier named the label too, its text-less answer did not win the tie.
    assert sum(r["emotion_emovit"] == r["emotion"] for r in agreed) >= 3
