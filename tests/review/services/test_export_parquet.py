"""The Parquet export read by the tools researchers use: pyarrow's exact types, Hugging Face
`datasets` features (fixed-size DES, nested structs, ClassLabel, decoded images), pandas and
polars; masks decode with pycocotools; bytes leave row group by row group."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from annotator.lib.rle import encode_mask
from annotator.models import Region, Sample
from review.services.export_formats import FORMATS, ExportOptions
from review.services.export_parquet import write_parquet
from tests.factories import RegionFactory
from tests.review.services.test_export import (
    T1,
    World,
    des_vector,
    make_world,
)


@pytest.fixture
def world(db) -> World:
    return make_world()


def export(world: World, tmp_path: Path, **options: Any) -> Path:
    path = tmp_path / "labels.parquet"
    write_parquet(dataset=world.dataset, scope="all", path=path, options=ExportOptions(**options))
    return path


def rows_by_id(path: Path) -> dict[int, dict]:
    return {row["sample_id"]: row for row in pq.read_table(path).to_pylist()}


MODEL_STRUCT = pa.struct([
    ("emotion", pa.string()), ("background", pa.string()), ("attribute", pa.string()),
    ("subject", pa.string()), ("description", pa.string()), ("confidence", pa.float64()),
    ("prompt_version", pa.string()),
])  # fmt: skip
MASK_STRUCT = pa.struct([("size", pa.list_(pa.int32(), 2)), ("counts", pa.string())])


def test_pyarrow_reads_the_exact_types(world, tmp_path: Path):
    schema = pq.read_schema(export(world, tmp_path))
    expected = {
        "sample_id": pa.int64(),
        "emotion": pa.string(),
        "emotion_id": pa.int64(),
        "confidence": pa.float64(),
        "decided_at": pa.timestamp("us", tz="UTC"),
        "width": pa.int32(),
        "height": pa.int32(),
        "content_hash": pa.string(),
        "licence": pa.string(),
        "DES": pa.list_(pa.float32(), 1024),
        "model_gpt-4o": MODEL_STRUCT,
        "model_gemini": MODEL_STRUCT,
        "critic_reasoning": pa.string(),
        "notes": pa.string(),
    }
    for name, kind in expected.items():
        assert schema.field(name).type == kind, name
    region = schema.field("regions").type.value_type
    assert region.field("box").type == pa.list_(pa.float64(), 4)
    assert region.field("box_normalized").type == pa.list_(pa.float64(), 4)
    assert region.field("mask").type == MASK_STRUCT
    assert not schema.field("sample_id").nullable and schema.field("emotion").nullable
    assert "bbox" not in schema.names and "image" not in schema.names
    assert [n for n in schema.names if n.startswith("model_")] == [
        "model_claude", "model_gemini", "model_gpt-4o", "model_llava"
    ]  # fmt: skip


def test_rows_carry_label_ids_models_critic_size_and_licence(world, tmp_path: Path):
    world.dataset.licence = "CC BY-NC 4.0"
    world.dataset.save()
    labels = world.dataset.taxonomy.labels
    by_id = rows_by_id(export(world, tmp_path))
    adjudicated = by_id[world.adjudicated.pk]
    assert (adjudicated["emotion"], adjudicated["emotion_id"]) == ("awe", labels.index("awe"))
    assert adjudicated["decided_at"] == T1
    assert (adjudicated["width"], adjudicated["height"]) == (64, 48)
    assert adjudicated["licence"] == "CC BY-NC 4.0"
    assert adjudicated["model_gemini"]["emotion"] == "fear"  # each model's own answer
    assert adjudicated["model_gemini"]["confidence"] == 5.0
    assert adjudicated["model_gemini"]["subject"] == "gemini-subj"
    assert adjudicated["model_claude"] is None  # claude said nothing about this one
    assert adjudicated["critic_verdict"] == "preserve"
    assert adjudicated["critic_reasoning"]
    dropped = by_id[world.dropped.pk]
    assert (dropped["critic_verdict"], dropped["emotion_id"]) == ("drop", None)
    assert by_id[world.agreed.pk]["emotion_id"] == labels.index("contentment")


def test_regions_are_structs_with_pixel_and_normalised_boxes(world, tmp_path: Path):
    regions = rows_by_id(export(world, tmp_path))[world.adjudicated.pk]["regions"]
    subject = next(r for r in regions if r["role"] == "subject")
    assert subject["phrase"] == "hiker"
    assert subject["box"] == [1.0, 2.0, 3.0, 40.0]
    assert subject["box_normalized"] == pytest.approx([1 / 64, 2 / 48, 3 / 64, 40 / 48])
    assert subject["mask"] is None
    assert "no box" not in [r["phrase"] for r in regions]  # a region without a box is left out


def test_a_mask_struct_decodes_with_pycocotools_to_the_apps_mask(world, tmp_path: Path):
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:30, 5:25] = True
    RegionFactory(
        sample=world.pending, role=Region.Role.SUBJECT, phrase="blob", mask=encode_mask(mask),
        segmenter="sam", x1=5, y1=10, x2=25, y2=30,
    )  # fmt: skip
    (region,) = rows_by_id(export(world, tmp_path))[world.pending.pk]["regions"]
    rle = region["mask"]
    assert rle["size"] == [48, 64] and region["segmenter"] == "sam"
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert np.array_equal(decoded.astype(bool), mask)


def test_des_is_fixed_size_float32_or_null(world, tmp_path: Path):
    table = pq.read_table(export(world, tmp_path), columns=["sample_id", "DES"])
    column = table["DES"].combine_chunks()
    assert isinstance(column, pa.FixedSizeListArray)
    des = dict(zip(table["sample_id"].to_pylist(), column.to_pylist(), strict=True))
    np.testing.assert_array_equal(np.asarray(des[world.agreed.pk], "<f4"), des_vector(1))
    np.testing.assert_array_equal(np.asarray(des[world.disputed.pk], "<f4"), des_vector(2))
    assert des[world.pending.pk] is None


@pytest.mark.slow  # importing `datasets` alone takes 2-5 s
def test_datasets_loads_typed_features(world, tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    path = export(world, tmp_path)
    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf")
    )
    features = loaded.features
    assert features["DES"] == datasets.List(datasets.Value("float32"), length=1024)
    assert features["emotion_id"] == datasets.ClassLabel(names=world.dataset.taxonomy.labels)
    assert features["decided_at"] == datasets.Value("timestamp[us, tz=UTC]")
    assert features["width"] == datasets.Value("int32")
    region = features["regions"].feature
    assert region["box"] == datasets.List(datasets.Value("float64"), length=4)
    assert region["mask"]["counts"] == datasets.Value("string")
    assert features["model_gpt-4o"]["confidence"] == datasets.Value("float64")
    rows = {row["sample_id"]: row for row in loaded}
    assert len(rows[world.agreed.pk]["DES"]) == 1024
    assert rows[world.adjudicated.pk]["regions"][0]["phrase"] == "hiker"
    assert features["emotion_id"].int2str(rows[world.adjudicated.pk]["emotion_id"]) == "awe"


def write_image(root: Path, name: str, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    (root / name).write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.mark.slow
def test_embedded_images_decode_to_pil_in_datasets(world, tmp_path: Path, settings, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr("review.services.export_parquet.IMAGE_GROUP_ROWS", 4)
    root = tmp_path / "images"
    root.mkdir()
    world.dataset.images_root = str(root)
    world.dataset.save()
    png = write_image(root, world.agreed.image_path, (200, 30, 30))
    Sample.objects.filter(pk=world.pending.pk).update(image_path="../outside.png")
    write_image(tmp_path, "outside.png", (0, 0, 0))  # outside the root: never embedded
    path = export(world, tmp_path, embed_images=True)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 2]
    by_id = rows_by_id(path)
    assert by_id[world.agreed.pk]["image"] == {"bytes": png, "path": world.agreed.image_path}
    assert by_id[world.pending.pk]["image"] is None
    assert by_id[world.tie.pk]["image"] is None  # no file
    loaded = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "hf"))
    assert loaded.features["image"] == datasets.Image()
    picture = {row["sample_id"]: row["image"] for row in loaded}[world.agreed.pk]
    assert isinstance(picture, Image.Image)
    assert picture.size == (64, 48) and picture.getpixel((3, 3)) == (200, 30, 30)


def test_pandas_and_polars_read_it(world, tmp_path: Path):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    path = export(world, tmp_path)
    frame = pd.read_parquet(path).set_index("sample_id")
    assert frame.loc[world.adjudicated.pk, "emotion"] == "awe"
    assert len(frame.loc[world.agreed.pk, "DES"]) == 1024
    assert frame.loc[world.adjudicated.pk, "model_gemini"]["emotion"] == "fear"
    polar = pl.read_parquet(path)
    assert polar.schema["DES"] == pl.Array(pl.Float32, 1024)
    assert polar.schema["width"] == pl.Int32
    regions = polar.filter(pl.col("sample_id") == world.adjudicated.pk)["regions"].to_list()[0]
    assert regions[0]["box"] == [1.0, 2.0, 3.0, 40.0]


def test_bytes_leave_row_group_by_row_group(world, settings):
    settings.EXPORT_BATCH_SIZE = 2
    chunks = FORMATS["parquet"].chunks(dataset=world.dataset, scope="all")
    first = next(chunks)
    assert first.rows == 2 and first.data.startswith(b"PAR1")  # before the rest was read
    rest = list(chunks)
    assert [c.rows for c in rest] == [2, 2, 0]
    body = first.data + b"".join(c.data for c in rest)
    assert body.endswith(b"PAR1")
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2, 2, 2]
