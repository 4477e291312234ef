"""COCO instance segmentation export, read back with pycocotools (COCO, annToMask, COCOeval)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotator.lib.rle import decode_mask
from annotator.models import Dataset
from review.services.export import export_to_path
from review.services.export_formats import FORMATS
from tests import factories
from tests.review.services.rich_export import Rich, add_undecided, make_rich


@pytest.fixture
def rich(db, images_root: Path) -> Rich:
    return make_rich(images_root=images_root)


def load_coco(dataset: Dataset, path: Path, *, scope: str = "decided") -> COCO:
    export_to_path(dataset=dataset, scope=scope, fmt="coco", path=path)
    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints its timings
        return COCO(str(path))


def test_pycocotools_loads_images_and_categories(rich: Rich, tmp_path: Path):
    coco = load_coco(rich.dataset, tmp_path / "c.json")
    assert coco.getCatIds() == [1, 2, 3]
    assert coco.getCatIds(catNms=["subject"]) == [3]
    assert {c["supercategory"] for c in coco.loadCats(coco.getCatIds())} == {"B-A-S"}
    assert sorted(coco.getImgIds()) == [rich.adjudicated.pk, rich.agreed.pk, rich.bare.pk]
    (image,) = coco.loadImgs([rich.adjudicated.pk])
    assert image == {
        "id": rich.adjudicated.pk, "file_name": "a.jpg", "width": 64, "height": 48, "license": 1,
        "emotion": "awe", "confidence": 9.5, "status": "adjudicated", "source": "EmoSet",
        "external_id": "ev-000123", "decided_by": "person",
        "content_hash": rich.adjudicated.content_hash,
        "label_source": "person", "posterior": None, "posterior_entropy": None,  # no fit
    }  # fmt: skip
    (agreed,) = coco.loadImgs([rich.agreed.pk])
    assert (agreed["emotion"], agreed["confidence"], agreed["decided_by"]) == (
        "contentment",
        7.5,
        "models",
    )
    assert coco.dataset["licenses"] == [
        {"id": 1, "name": "CC BY 4.0", "url": "", "attribution": "Photos: the EmoReview test suite"}
    ]
    info = coco.dataset["info"]
    assert (info["dataset"], info["scope"], info["version"]) == ("rich", "decided", "1.0")


def test_annotations_decode_to_the_apps_masks(rich: Rich, tmp_path: Path):
    coco = load_coco(rich.dataset, tmp_path / "c.json")
    assert len(coco.getAnnIds(imgIds=[rich.adjudicated.pk])) == 3
    assert coco.getAnnIds(imgIds=[rich.bare.pk]) == []
    (machine_id,) = coco.getAnnIds(imgIds=[rich.adjudicated.pk], catIds=[1])
    (machine,) = coco.loadAnns([machine_id])
    assert rich.machine_mask.mask is not None
    expected = decode_mask(rich.machine_mask.mask)
    assert np.array_equal(coco.annToMask(machine).astype(bool), expected)
    assert machine["area"] == expected.sum()
    ys, xs = np.nonzero(expected)
    assert machine["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert (machine["origin"], machine["segmenter"], machine["score"]) == ("model", "sam", 0.8)
    assert machine["iscrowd"] == 0 and machine["phrase"] == "white plain"
    (person_id,) = coco.getAnnIds(imgIds=[rich.adjudicated.pk], catIds=[2])
    (person,) = coco.loadAnns([person_id])
    chosen = decode_mask(rich.person_mask.candidates[1]["rle"])
    assert np.array_equal(coco.annToMask(person).astype(bool), chosen)
    assert (person["origin"], person["segmenter"], person["score"]) == ("person", "grabcut", 0.93)
    assert person["phrase"] == "tiny, still"  # no region names the attribute: the label's


def test_a_box_only_region_is_a_polygon_with_the_boxs_area(rich: Rich, tmp_path: Path):
    coco = load_coco(rich.dataset, tmp_path / "c.json")
    (box_id,) = coco.getAnnIds(imgIds=[rich.adjudicated.pk], catIds=[3])
    (box,) = coco.loadAnns([box_id])
    assert box["bbox"] == [4.5, 6.0, 25.75, 34.0]
    assert box["area"] == 25.75 * 34.0
    assert box["segmentation"] == [[4.5, 6.0, 30.25, 6.0, 30.25, 40.0, 4.5, 40.0]]
    pixels = coco.annToMask(box)
    ys, xs = np.nonzero(pixels)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (5, 29, 6, 39)  # pixels inside the box
    assert (box["origin"], box["model_name"], box["score"]) == ("model", "grounding-dino", 0.61)


def test_cocoeval_scores_the_export_against_itself_as_perfect(rich: Rich, tmp_path: Path):
    """COCOeval reads images, categories, areas and masks: the file as its own detections."""
    coco = load_coco(rich.dataset, tmp_path / "c.json")
    results = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        rle = coco.annToRLE(ann)
        rle["counts"] = (
            rle["counts"].decode() if isinstance(rle["counts"], bytes) else rle["counts"]
        )
        results.append({
            "image_id": ann["image_id"], "category_id": ann["category_id"],
            "segmentation": rle, "score": 1.0,
        })  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(results), "segm")
        evaluation.params.areaRng = [[0, 1e10]] * 4  # every size in each range
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_the_file_streams_images_then_annotations(rich: Rich, settings):
    settings.EXPORT_BATCH_SIZE = 2
    chunks = list(FORMATS["coco"].chunks(dataset=rich.dataset, scope="decided"))
    # header, 2 image batches, separator, 2 annotation batches, end
    assert [c.rows for c in chunks] == [0, 0, 0, 0, 2, 1, 0]
    document = json.loads(b"".join(c.data for c in chunks))
    assert list(document) == ["info", "licenses", "categories", "images", "annotations"]
    assert [a["id"] for a in document["annotations"]] == [1, 2, 3, 4]
    assert b'"annotations":[' in chunks[3].data and b'"file_name"' in chunks[1].data


def test_queries_per_batch_are_constant(db, images_root: Path, settings):
    """Both passes read batch by batch: more samples, more batches, not more queries each."""
    settings.EXPORT_BATCH_SIZE = 1
    small = make_rich(images_root=images_root).dataset
    large = make_rich(images_root=images_root, name="l").dataset
    for _ in range(2):
        factories.SampleFactory(dataset=large, status="agreed", suggested_emotion="awe")

    def queries(dataset: Dataset) -> int:
        with CaptureQueriesContext(connection) as ctx:
            list(FORMATS["coco"].chunks(dataset=dataset, scope="all"))
        return len(ctx.captured_queries)

    assert queries(large) - queries(small) == 2 * 2 * 6  # 2 more batches, 2 passes, 6 queries


def test_scope_all_and_an_empty_dataset(rich: Rich, tmp_path: Path):
    add_undecided(rich)
    coco = load_coco(rich.dataset, tmp_path / "all.json", scope="all")
    statuses = {img["external_id"]: img["status"] for img in coco.loadImgs(coco.getImgIds())}
    assert statuses["x-1"] == "dropped" and statuses["p-1"] == "pending"
    (dropped,) = [img for img in coco.dataset["images"] if img["external_id"] == "x-1"]
    assert (dropped["emotion"], dropped["decided_by"]) == (None, "critic")
    empty_dataset = Dataset.objects.create(name="empty", taxonomy=rich.dataset.taxonomy)
    empty = load_coco(empty_dataset, tmp_path / "empty.json")
    assert empty.dataset["images"] == [] and empty.dataset["annotations"] == []
