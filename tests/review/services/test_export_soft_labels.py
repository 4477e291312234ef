"""Soft labels in every export format (issue 14 §4): the latent-class posterior per taxonomy
label, its entropy and the hard label's source, with a fit and without one; labelling the
undecided samples from the consensus (label_from="consensus")."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator.models import Dataset, Sample
from annotator.taxonomy import MIKELS_8_LABELS
from review.models_consensus import ConsensusFit
from review.services.export import export_to_path
from review.services.export_datasheet import datasheet_markdown
from review.services.export_formats import ExportOptions
from tests.review.services.rich_export import Rich, add_undecided, make_rich
from tests.review.services.soft_labels import FIT_FINISHED, entropy_bits, make_fit

AWE = [0.05, 0.71, 0.22, 0.02, 0.0, 0.0, 0.0, 0.0]  # the adjudicated sample
CONTENT = [0.0, 0.0, 0.9, 0.1, 0.0, 0.0, 0.0, 0.0]  # the agreed one
FEAR = [0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.6, 0.0]  # the disputed one
ANGER = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # the dropped one
CONSENSUS = ExportOptions(label_from="consensus")


@pytest.fixture
def rich(db, images_root: Path) -> Rich:
    return make_rich(images_root=images_root)


@pytest.fixture
def undecided(rich: Rich) -> dict[str, Sample]:
    return add_undecided(rich)


@pytest.fixture
def fit(rich: Rich, undecided: dict[str, Sample]) -> ConsensusFit:
    """Posteriors for all but `bare` and the pending sample (the fit did not cover them)."""
    return make_fit(
        rich.dataset,
        {
            rich.adjudicated: AWE,
            rich.agreed: CONTENT,
            undecided["disputed"]: FEAR,
            undecided["dropped"]: ANGER,
        },
    )


def f32(values: list[float]) -> list[float]:
    """What a float32 column reads back as."""
    return np.asarray(values, dtype="<f4").astype(np.float64).tolist()


def export(dataset: Dataset, tmp_path: Path, fmt: str, *, options: ExportOptions | None = None):
    path = tmp_path / f"out.{fmt}"
    export_to_path(dataset=dataset, scope="all", fmt=fmt, path=path, options=options)
    return path


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {r["external_id"]: r for r in csv.DictReader(io.StringIO(path.read_text()))}


def test_csv_has_a_posterior_column_per_label_in_taxonomy_order(rich, undecided, fit, tmp_path):
    path = export(rich.dataset, tmp_path, "csv")
    header = next(csv.reader(io.StringIO(path.read_text())))
    tail = ["label_source", "posterior_entropy", *(f"posterior_{x}" for x in MIKELS_8_LABELS)]
    assert header[-10:] == tail
    rows = read_csv(path)
    adjudicated = rows["ev-000123"]
    # The shortest decimal of each stored float32, not the double's 0.7099999785423279.
    assert [adjudicated[f"posterior_{x}"] for x in MIKELS_8_LABELS] == [
        "0.05", "0.71", "0.22", "0.02", "0.0", "0.0", "0.0", "0.0",
    ]  # fmt: skip
    assert float(adjudicated["posterior_entropy"]) == pytest.approx(entropy_bits(AWE))
    assert adjudicated["label_source"] == "person"
    assert rows["881"]["label_source"] == "models" and rows["881"]["posterior_contentment"] == "0.9"
    for uncovered in ("web-0042", "p-1"):  # no posterior: empty cells
        assert rows[uncovered]["posterior_awe"] == rows[uncovered]["posterior_entropy"] == ""
    assert rows["d-1"]["label_source"] == "" and rows["d-1"]["emotion"] == ""  # not labelled
    assert rows["d-1"]["posterior_fear"] == "0.6"


def test_csv_without_a_fit_keeps_the_columns_empty_but_names_the_source(rich, undecided, tmp_path):
    rows = read_csv(export(rich.dataset, tmp_path, "csv"))
    assert {r["posterior_awe"] for r in rows.values()} == {""}
    assert {r["posterior_entropy"] for r in rows.values()} == {""}
    assert rows["ev-000123"]["label_source"] == "person" and rows["881"]["label_source"] == "models"
    assert rows["x-1"]["label_source"] == ""  # dropped by the critic: no label


def test_label_from_consensus_labels_only_undecided_samples(rich, undecided, fit, tmp_path):
    rows = read_csv(export(rich.dataset, tmp_path, "csv", options=CONSENSUS))
    disputed = rows["d-1"]
    assert (disputed["emotion"], disputed["label_source"]) == ("fear", "consensus")
    assert disputed["decided_by"] == "consensus_model" and disputed["annotator"] == ""
    assert float(disputed["confidence"]) == pytest.approx(6.0)  # p(fear) x 10
    assert disputed["decided_at"] == FIT_FINISHED.isoformat(timespec="microseconds")
    # The triplet and description of the proposal naming the label (gemini's), as when agreed.
    assert (disputed["background"], disputed["subject"]) == ("snow-covered plain", "person")
    assert disputed["description"] == "A person stands on a snow-covered plain."
    assert rows["x-1"]["emotion"] == ""  # the critic dropped it: stays unlabelled
    assert rows["p-1"]["emotion"] == ""  # no posterior
    assert rows["ev-000123"]["emotion"] == "awe"  # a person's label is never replaced
    assert rows["881"]["emotion"] == "contentment"


def test_parquet_posterior_is_a_fixed_size_float32_list(rich, undecided, fit, tmp_path):
    path = export(rich.dataset, tmp_path, "parquet", options=CONSENSUS)
    table = pq.read_table(path)
    kind = table.schema.field("posterior").type
    assert (str(kind.value_type), kind.list_size) == ("float", 8)
    rows = {r["external_id"]: r for r in table.to_pylist()}
    assert rows["ev-000123"]["posterior"] == f32(AWE)
    assert rows["web-0042"]["posterior"] is None and rows["p-1"]["posterior_entropy"] is None
    assert rows["881"]["label_source"] == "models"
    assert (rows["d-1"]["emotion"], rows["d-1"]["label_source"]) == ("fear", "consensus")
    assert rows["d-1"]["emotion_id"] == MIKELS_8_LABELS.index("fear")
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["posterior"] == {
        "feature": {"dtype": "float32", "_type": "Value"}, "length": 8, "_type": "Sequence",
    }  # fmt: skip
    assert features["label_source"] == {"dtype": "string", "_type": "Value"}


def test_parquet_without_a_fit_has_null_posteriors(rich, undecided, tmp_path):
    table = pq.read_table(export(rich.dataset, tmp_path, "parquet"))
    assert set(table.column("posterior").to_pylist()) == {None}
    assert table.column("posterior").null_count == table.num_rows


def test_jsonl_carries_the_posterior_only_with_a_fit(rich, undecided, fit, tmp_path):
    lines = export(rich.dataset, tmp_path, "jsonl").read_text().splitlines()
    records = {r["id"]: r for r in map(json.loads, lines)}
    first = records["ev-000123"]
    assert list(first)[-3:] == ["posterior", "posterior_entropy", "label_source"]
    assert first["posterior"] == dict(zip(MIKELS_8_LABELS, AWE, strict=True))  # shortest decimals
    assert first["label_source"] == "person"
    assert records["web-0042"]["posterior"] is None
    ConsensusFit.objects.all().delete()
    again = [
        json.loads(x) for x in export(rich.dataset, tmp_path, "jsonl").read_text().splitlines()
    ]
    assert all("posterior" not in r and "label_source" not in r for r in again)


def test_jsonl_round_trip_drops_only_the_soft_labels(rich, fit, tmp_path, images_root):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    export_to_path(dataset=rich.dataset, scope="decided", fmt="jsonl", path=first)
    call_command(
        "import_samples", str(first), "--dataset", "copy", "--images-root", str(images_root),
        stdout=io.StringIO(),
    )  # fmt: skip
    copy = Dataset.objects.get(name="copy")
    export_to_path(dataset=copy, scope="decided", fmt="jsonl", path=second)
    soft = ("posterior", "posterior_entropy", "label_source")
    stripped = [
        {k: v for k, v in json.loads(line).items() if k not in soft}
        for line in first.read_text().splitlines()
    ]
    assert [json.loads(line) for line in second.read_text().splitlines()] == stripped


def test_coco_images_carry_the_soft_labels(rich, undecided, fit, tmp_path):
    document = json.loads(export(rich.dataset, tmp_path, "coco").read_text())
    images = {i["external_id"]: i for i in document["images"]}
    assert images["ev-000123"]["posterior"]["awe"] == 0.71
    assert images["ev-000123"]["posterior_entropy"] == pytest.approx(entropy_bits(AWE))
    assert images["881"]["label_source"] == "models"
    assert images["p-1"]["posterior"] is None


def test_labelstudio_gets_a_consensus_prediction_and_the_posterior_in_meta(
    rich, undecided, fit, tmp_path
):
    tasks = json.loads(export(rich.dataset, tmp_path, "labelstudio").read_text())
    by_id = {t["data"]["meta"]["external_id"]: t for t in tasks}
    task = by_id["ev-000123"]
    (consensus,) = [p for p in task["predictions"] if p["model_version"].startswith("consensus")]
    assert consensus["model_version"] == "consensus:dawid_skene" and consensus["score"] == 0.71
    assert consensus["result"][0]["value"] == {"choices": ["awe"]}
    meta = task["data"]["meta"]
    assert meta["posterior"]["contentment"] == 0.22 and meta["label_source"] == "person"
    bare = by_id["web-0042"]
    assert not any(p["model_version"].startswith("consensus") for p in bare["predictions"])
    assert bare["data"]["meta"]["posterior"] is None


def test_labelstudio_without_a_fit_has_no_consensus_prediction(rich, tmp_path):
    tasks = json.loads(export(rich.dataset, tmp_path, "labelstudio").read_text())
    versions = {p["model_version"] for t in tasks for p in t["predictions"]}
    assert not any(v.startswith("consensus") for v in versions)
    assert {t["data"]["meta"]["posterior"] for t in tasks} == {None}


def test_a_fit_in_another_label_order_is_exported_in_the_taxonomy_order(rich, tmp_path):
    labels = list(reversed(MIKELS_8_LABELS))[:7]  # "amusement" unknown to this fit
    make_fit(rich.dataset, {rich.adjudicated: [0.1, 0.0, 0.0, 0.0, 0.2, 0.3, 0.4]}, labels=labels)
    row = read_csv(export(rich.dataset, tmp_path, "csv"))["ev-000123"]
    got = {x: row[f"posterior_{x}"] for x in MIKELS_8_LABELS}
    assert got == {
        "amusement": "0.0", "awe": "0.4", "contentment": "0.3", "excitement": "0.2",
        "anger": "0.0", "disgust": "0.0", "fear": "0.0", "sadness": "0.1",
    }  # fmt: skip


def test_rows_of_an_older_fit_are_not_exported(rich, tmp_path):
    make_fit(rich.dataset, {rich.adjudicated: AWE})
    make_fit(rich.dataset, {}, finished_at=FIT_FINISHED.replace(day=2))  # newer, covers none
    assert read_csv(export(rich.dataset, tmp_path, "csv"))["ev-000123"]["posterior_awe"] == ""


def test_datasheet_states_the_fit_and_mean_entropy(rich, undecided, fit):
    sheet = datasheet_markdown(dataset=rich.dataset, scope="decided")
    mean = (entropy_bits(AWE) + entropy_bits(CONTENT)) / 2  # the decided samples' posteriors
    assert "## Soft labels" in sheet
    assert "Posteriors from a Dawid-Skene fit finished 2026-12-01T09:00:00+00:00" in sheet
    assert f"2 samples of this export have one, mean entropy {mean:.3f} bits" in sheet


def test_datasheet_without_a_fit_says_so(rich):
    assert "No latent-class fit yet" in datasheet_markdown(dataset=rich.dataset, scope="all")


def test_command_takes_label_from_consensus_with_scope_all_only(rich, undecided, fit, tmp_path):
    out = tmp_path / "c.csv"
    name = rich.dataset.name
    call_command(
        "export_labels", "--dataset", name, "--format", "csv", "--out", str(out),
        "--scope", "all", "--label-from", "consensus", stdout=io.StringIO(),
    )  # fmt: skip
    assert read_csv(out)["d-1"]["label_source"] == "consensus"
    with pytest.raises(CommandError, match="--label-from consensus: only with --scope all"):
        call_command(
            "export_labels", "--dataset", name, "--format", "csv", "--out", str(out),
            "--label-from", "consensus",
        )  # fmt: skip
