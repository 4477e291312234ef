"""`manage.py export_labels`: arguments, exit codes, the file it writes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from PIL import Image

from annotator.models import Region
from tests.review.services.test_export import World, make_world
from tests.review.services.test_export_formulas import HYPERLINK, make_hostile_dataset


@pytest.fixture
def world(db) -> World:
    return make_world()


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_labels", *args, stdout=out)
    return out.getvalue()


def test_writes_csv_of_decided_labels_by_default(world, tmp_path: Path):
    path = tmp_path / "labels.csv"
    message = export("--dataset", "emo-export", "--format", "csv", "--out", str(path))
    assert message.splitlines()[0] == f"Wrote 3 rows (decided) of emo-export to {path} (csv)"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["decided_by"] for row in rows) == ["models", "models", "person"]


def test_writes_parquet_of_every_sample(world, tmp_path: Path):
    path = tmp_path / "labels.parquet"
    export("--dataset", "emo-export", "--format", "parquet", "--scope", "all", "--out", str(path))
    table = pq.read_table(path)
    assert table.num_rows == 6
    assert sorted(set(table["status"].to_pylist())) == [
        "adjudicated",
        "agreed",
        "disputed",
        "dropped",
        "pending",
    ]


def test_unknown_dataset_names_the_known_ones(world, tmp_path: Path):
    with pytest.raises(CommandError, match=r"no dataset named 'nope' \(known: emo-export\)") as err:
        export("--dataset", "nope", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert err.value.returncode == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], r"argument --format: invalid choice: 'xlsx'"),
        (["--format", "csv", "--scope", "most"], r"argument --scope: invalid choice: 'most'"),
    ],
)
def test_bad_format_or_scope_is_refused(world, tmp_path: Path, args: list[str], message: str):
    with pytest.raises(CommandError, match=message):
        export("--dataset", "emo-export", *args, "--out", str(tmp_path / "x"))
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory_is_refused(world, tmp_path: Path):
    with pytest.raises(CommandError, match=r"--out: directory .*missing does not exist"):
        export("--dataset", "emo-export", "--format", "csv", "--out", str(tmp_path / "missing/x"))


def test_exit_codes_from_the_command_line(world, tmp_path: Path, capsys, monkeypatch):
    """As `manage.py` runs it: 0 on success, 1 on a CommandError, 2 on bad arguments."""
    # run_from_argv closes every connection when it ends; on PostgreSQL that would close the
    # connection holding this test's transaction, so keep it open.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    path = tmp_path / "labels.csv"
    base = ["manage.py", "export_labels", "--out", str(path)]
    with pytest.raises(SystemExit) as bad_args:
        execute_from_command_line([*base, "--dataset", "emo-export", "--format", "xml"])
    assert bad_args.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_dataset:
        execute_from_command_line([*base, "--dataset", "nope", "--format", "csv"])
    assert bad_dataset.value.code == 1
    assert "CommandError: --dataset: no dataset named 'nope'" in capsys.readouterr().err
    execute_from_command_line([*base, "--dataset", "emo-export", "--format", "csv"])
    assert "Wrote 3 rows" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8").startswith("sample_id,external_id,")


@pytest.mark.parametrize(
    ("flags", "description"), [([], "'" + HYPERLINK), (["--no-formula-guard"], HYPERLINK)]
)
def test_formula_guard_is_on_unless_switched_off(db, tmp_path: Path, flags, description):
    make_hostile_dataset()
    path = tmp_path / "labels.csv"
    export("--dataset", "formulas", "--format", "csv", "--out", str(path), "--scope", "all", *flags)
    with path.open(newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["description"] == description
    assert row["confidence"] == "-1.5"


def test_label_map_and_datasheet_are_written_beside_the_file(world, tmp_path: Path):
    path = tmp_path / "labels.parquet"
    message = export("--dataset", "emo-export", "--format", "parquet", "--out", str(path))
    labels = tmp_path / "labels.parquet.labels.json"
    sheet = tmp_path / "labels.parquet.datasheet.md"
    assert sorted(tmp_path.iterdir()) == [path, sheet, labels]  # no temporary file left
    assert message.splitlines()[1:] == [
        f"Wrote {labels} (label map)",
        f"Wrote {sheet} (datasheet)",
        "Each file was written to a temporary file first, then renamed.",
    ]
    names = [label["name"] for label in json.loads(labels.read_text(encoding="utf-8"))["labels"]]
    assert names == world.dataset.taxonomy.labels
    text = sheet.read_text(encoding="utf-8")
    assert text.startswith("# Datasheet: emo-export\n")
    assert "as parquet, scope decided." in text


def test_a_failed_datasheet_leaves_no_partial_file(world, tmp_path: Path, monkeypatch):
    def broken(**kwargs: object) -> str:
        raise ValueError("no figures")

    monkeypatch.setattr("review.services.export_beside.datasheet_markdown", broken)
    path = tmp_path / "labels.csv"
    with pytest.raises(CommandError, match="failed: no figures"):
        export("--dataset", "emo-export", "--format", "csv", "--out", str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


def test_embed_images_adds_the_image_column_and_only_for_parquet(world, tmp_path: Path):
    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (8, 6), (10, 200, 10)).save(root / world.agreed.image_path, format="PNG")
    world.dataset.images_root = str(root)
    world.dataset.save()
    path = tmp_path / "labels.parquet"
    export("--dataset", "emo-export", "--format", "parquet", "--embed-images", "--out", str(path))
    table = pq.read_table(path, columns=["sample_id", "image"]).to_pydict()
    images = dict(zip(table["sample_id"], table["image"], strict=True))
    picture = Image.open(io.BytesIO(images[world.agreed.pk]["bytes"]))
    assert picture.size == (8, 6)
    with pytest.raises(CommandError, match="--embed-images: only with --format parquet"):
        export("--dataset", "emo-export", "--format", "csv", "--embed-images", "--out", str(path))


def test_label_studio_export_also_writes_the_labeling_config(world, tmp_path: Path):
    pytest.importorskip("review.services.export_labelstudio")
    # The world's background region has a mask without counts, which Label Studio can't take.
    Region.objects.filter(sample=world.adjudicated).update(mask=None)
    path = tmp_path / "tasks.json"
    message = export("--dataset", "emo-export", "--format", "labelstudio", "--out", str(path))
    config = tmp_path / "tasks.json.labelconfig.xml"
    assert f"Wrote {config} (Label Studio labeling config)" in message
    assert ElementTree.fromstring(config.read_text(encoding="utf-8")).tag == "View"
