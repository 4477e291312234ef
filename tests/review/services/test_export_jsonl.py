"""EmoVerse JSONL export: the records, pandas reading them, and the round trip through
`manage.py import_samples` into a new dataset (byte-identical second export)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from django.core.management import call_command

from annotator.lib.rle import decode_mask
from annotator.models import Dataset, Region, Sample
from review.services import export_jsonl as jsonl_module
from review.services.export import export_to_path
from review.services.export_formats import FORMATS
from tests.review.services.rich_export import Rich, add_undecided, des_values, make_rich


@pytest.fixture
def rich(db, images_root: Path) -> Rich:
    return make_rich(images_root=images_root)


def export_jsonl(dataset: Dataset, path: Path, *, scope: str = "decided") -> list[dict]:
    export_to_path(dataset=dataset, scope=scope, fmt="jsonl", path=path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def import_file(path: Path, *, dataset: str, images_root: Path) -> str:
    out = io.StringIO()
    call_command(
        "import_samples", str(path), "--dataset", dataset, "--images-root", str(images_root),
        stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_records_carry_the_final_label_in_emoverse_names(rich: Rich, tmp_path: Path):
    records = {r["id"]: r for r in export_jsonl(rich.dataset, tmp_path / "a.jsonl")}
    assert list(records) == ["ev-000123", "881", "web-0042"]  # id order
    first = records["ev-000123"]
    assert list(first) == [
        "id", "image_path", "source", "description", "emotion", "confidence", "background",
        "attribute", "subject", "B-A-S", "DES", "bbox", "masks",
    ]  # fmt: skip
    assert first["emotion"] == "awe" and first["confidence"] == 9.5
    assert first["B-A-S"] == "white plain - tiny, still - hiker"
    assert first["description"] == "A lone hiker faces a vast glacier."
    assert first["bbox"] == [{"x1": 4.5, "y1": 6.0, "x2": 30.25, "y2": 40.0}]
    machine, person = first["masks"]
    assert machine["role"] == "background" and machine["phrase"] == "white plain"
    assert machine["box"] == [0.0, 20.0, 64.0, 48.0]
    assert machine["mask"] == rich.machine_mask.mask
    chosen = rich.person_mask.candidates[1]["rle"]
    assert person["role"] == "attribute" and person["mask"] == chosen
    assert person["phrase"] == "tiny, still"  # the label's attribute: no region names it
    ys, xs = np.nonzero(decode_mask(chosen))
    assert person["box"] == [xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0]
    agreed = records["881"]
    assert agreed["confidence"] == 7.5  # the two models' mean
    assert agreed["description"].startswith("gemini: Ein Mädchen lächelt — 😊")  # weight 1.5
    assert agreed["DES"] is None and agreed["masks"] == []
    bare = records["web-0042"]
    assert bare["source"] is None and bare["confidence"] is None and bare["B-A-S"] is None
    assert (bare["background"], bare["description"]) == (None, None)


def test_des_is_written_float32_exact_and_short(rich: Rich, tmp_path: Path):
    path = tmp_path / "a.jsonl"
    record = export_jsonl(rich.dataset, path)[0]
    raw = des_values().tobytes()
    assert struct.pack("<1024f", *record["DES"]) == raw  # the importer's own conversion
    text = path.read_text(encoding="utf-8").splitlines()[0]
    assert '"DES":[0.0,-0.0,1.0,-1.0,1e-45,-1e-45,' in text
    assert ",0.1,1e-7,16777216.0,0.33333334," in text  # float32's shortest, not the double's


def test_every_line_loads_with_pandas(rich: Rich, tmp_path: Path):
    add_undecided(rich)
    path = tmp_path / "all.jsonl"
    export_to_path(dataset=rich.dataset, scope="all", fmt="jsonl", path=path)
    frame = pd.read_json(path, lines=True, dtype={"id": str})
    assert frame.shape[0] == 6
    assert list(frame["id"]) == ["ev-000123", "881", "web-0042", "d-1", "x-1", "p-1"]
    des = np.asarray(frame.loc[0, "DES"], dtype=np.float64).astype("<f4")
    assert des.tobytes() == des_values().tobytes()
    assert frame.loc[1, "emotion"] == "contentment"
    assert list(frame["status"].iloc[3:]) == ["disputed", "dropped", "pending"]


def test_round_trip_through_import_is_byte_identical(rich: Rich, tmp_path: Path, images_root):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    export_to_path(dataset=rich.dataset, scope="decided", fmt="jsonl", path=first)
    summary = import_file(first, dataset="rich-copy", images_root=images_root)
    assert "3 created" in summary
    copy = Dataset.objects.get(name="rich-copy")
    assert set(copy.samples.values_list("status", flat=True)) == {Sample.Status.AGREED}
    export_to_path(dataset=copy, scope="decided", fmt="jsonl", path=second)
    assert second.read_bytes() == first.read_bytes()
    imported = copy.samples.get(external_id="ev-000123")
    assert imported.des is not None and bytes(imported.des) == des_values().tobytes()
    masks = imported.regions.exclude(mask=None).order_by("id")
    assert [r.role for r in masks] == [Region.Role.BACKGROUND, Region.Role.ATTRIBUTE]
    assert masks[0].mask == rich.machine_mask.mask


def test_scope_all_imports_and_keeps_pending_and_dropped(rich: Rich, tmp_path, images_root):
    add_undecided(rich)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    records = export_jsonl(rich.dataset, first, scope="all")
    undecided = {r["id"]: r for r in records if "status" in r}
    assert set(undecided) == {"d-1", "x-1", "p-1"}
    assert "emotion" not in undecided["d-1"] and "bbox" not in undecided["d-1"]
    assert undecided["x-1"]["critic"]["verdict"] == "drop"
    import_file(first, dataset="rich-all", images_root=images_root)
    copy = Dataset.objects.get(name="rich-all")
    statuses = dict(copy.samples.values_list("external_id", "status"))
    assert (statuses["x-1"], statuses["p-1"], statuses["d-1"]) == ("dropped", "pending", "pending")
    again = {r["id"]: r for r in export_jsonl(copy, second, scope="all")}
    assert [again[k] for k in ("x-1", "p-1")] == [undecided[k] for k in ("x-1", "p-1")]
    decided = [r for r in records if "status" not in r]
    assert [again[r["id"]] for r in decided] == decided


def test_chunks_stream_per_batch_and_count_samples(rich: Rich, settings, monkeypatch):
    settings.EXPORT_BATCH_SIZE = 2
    chunks = list(FORMATS["jsonl"].chunks(dataset=rich.dataset, scope="decided"))
    assert [c.rows for c in chunks] == [2, 1]
    assert [c.data.count(b"\n") for c in chunks] == [2, 1]
    settings.EXPORT_BATCH_SIZE = 3
    monkeypatch.setattr(jsonl_module, "CHUNK_RECORDS", 2)  # a batch in slices
    sliced = list(FORMATS["jsonl"].chunks(dataset=rich.dataset, scope="decided"))
    assert [c.rows for c in sliced] == [2, 1]
    assert b"".join(c.data for c in sliced) == b"".join(c.data for c in chunks)


def test_float32_text_reads_back_exactly_across_every_exponent():
    """A million bit patterns, strided over all 2**32 (every exponent, varied mantissas):
    orjson's shortest text, read as the importer reads it (JSON double -> float32), gives the
    same bits, whichever JSON parser reads it."""
    bits = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32)
    values = bits.view("<f4")[np.isfinite(bits.view("<f4"))]
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    assert len(values) > 1_000_000
    for parse in (json.loads, orjson.loads):  # the importer reads lines with orjson
        back = np.array(parse(text), dtype=np.float64).astype("<f4")
        assert np.array_equal(back.view(np.uint32), values.view(np.uint32))
