"""manage.py export_answers: EmoNet-Face's votes come out as they went in (import_annotations,
then export_answers, read back with pandas and pyarrow); errors name the option."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "fixtures" / "emonet_face"
SLICE = FIXTURES / "binary_slice.csv"
FULL = REPO.parent / "shared" / "datasets" / "emonet-face" / "binary.csv"
# The one value EmoNet-Face's file writes that is not a label of its own guide: the import
# reads it as the label it is a synonym of, and says so (docs/formats.md, "Taxonomies").
SYNONYMS = {"Hopelessness": "Helplessness"}
Vote = tuple[str, str, str, bool]


def file_votes(path: Path) -> Counter[Vote]:
    """(image id, annotator, category, yes/no) of every line, categories as imported."""
    with path.open(newline="", encoding="utf-8") as handle:
        return Counter(
            (row["path"], row["annotator"], SYNONYMS.get(row["emotion"], row["emotion"]),
             {"True": True, "False": False}[row["value"]])
            for row in csv.DictReader(handle)
        )  # fmt: skip


def import_and_export(path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_taxonomy(name=EMONET_FACE_40, spec=read_taxonomy_file(path=FIXTURES / "guide.json"))
    call_command(
        "import_annotations", str(path), "--format", "emonet-binary",
        "--dataset", "emonet", "--create-samples",
    )  # fmt: skip
    capsys.readouterr()
    for fmt in ("csv", "parquet"):
        call_command(
            "export_answers", "--dataset", "emonet", "--format", fmt,
            "--out", str(out / f"answers.{fmt}"),
        )  # fmt: skip


def exported_votes(out: Path) -> tuple[Counter[Vote], Counter[Vote]]:
    """The votes of the CSV (read by pandas) and of the Parquet file (read by pyarrow)."""
    frame = pd.read_csv(
        out / "answers.csv",
        dtype={"external_id": "string", "vote": "boolean"},
        keep_default_na=False,
        na_values=[""],
    )
    assert set(frame["kind"]) == {"binary_vote"}
    assert set(frame["source"]) == {"import"}
    from_csv = Counter(
        (e, a, c, bool(v))
        for e, a, c, v in frame[["external_id", "annotator", "emotion", "vote"]].itertuples(False)
    )
    table = pq.read_table(out / "answers.parquet")
    from_parquet = Counter(
        zip(
            *(table[c].to_pylist() for c in ("external_id", "annotator", "emotion", "vote")),
            strict=True,
        )
    )
    return from_csv, from_parquet


def test_the_emonet_slice_comes_out_as_it_went_in(tmp_path: Path, capsys):
    import_and_export(SLICE, tmp_path, capsys)
    assert "Wrote 488 answers of emonet" in capsys.readouterr().out.splitlines()[-1]
    expected = file_votes(SLICE)
    assert sum(expected.values()) == 488
    from_csv, from_parquet = exported_votes(tmp_path)
    assert from_csv == expected
    assert from_parquet == expected
    # Votes on one (image, category) are numbered 1, 2, 3 in the file's order.
    table = pq.read_table(tmp_path / "answers.parquet").to_pandas()
    rounds = table.groupby(["external_id", "emotion"])["round"].apply(list)
    assert all(r == list(range(1, len(r) + 1)) for r in rounds)


@pytest.mark.slow
@pytest.mark.skipif(not FULL.is_file(), reason="../shared/datasets/emonet-face is not present")
def test_all_65686_emonet_face_votes_come_out_as_they_went_in(tmp_path: Path, capsys):
    import_and_export(FULL, tmp_path, capsys)
    expected = file_votes(FULL)
    assert sum(expected.values()) == 65_686
    from_csv, from_parquet = exported_votes(tmp_path)
    assert sum(from_csv.values()) == sum(from_parquet.values()) == 65_686
    assert from_csv == expected
    assert from_parquet == expected


def test_an_unknown_dataset_names_the_known_ones(tmp_path: Path):
    DatasetFactory(name="emo")
    with pytest.raises(CommandError, match=r"--dataset: no dataset named 'nope' \(known: emo\)"):
        call_command("export_answers", "--dataset", "nope", "--format", "csv", "--out", "x.csv")


def test_a_missing_directory_is_refused(tmp_path: Path):
    DatasetFactory(name="emo")
    out = tmp_path / "missing" / "a.csv"
    with pytest.raises(CommandError, match=r"--out: directory .* does not exist"):
        call_command("export_answers", "--dataset", "emo", "--format", "csv", "--out", str(out))


def test_an_unknown_format_is_refused(tmp_path: Path):
    DatasetFactory(name="emo")
    with pytest.raises(CommandError, match="invalid choice: 'coco'"):
        call_command(
            "export_answers", "--dataset", "emo", "--format", "coco",
            "--out", str(tmp_path / "a"),
        )  # fmt: skip
