"""A real Label Studio (the bench's own, bench/_labelstudio.py) takes our export: a project made
with labelstudio_config_xml imports the file through its API with prediction validation on,
and holds every task, prediction and annotation, masks included, as we wrote them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench._labelstudio import VENV, LabelStudio, installed_version
from review.services.export_formats import FORMATS
from review.services.export_labelstudio import labelstudio_config_xml
from tests.review.services.test_export_labelstudio import World, decoded, world  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        installed_version() is None,
        reason=f"no Label Studio in {VENV}: run `.venv/bin/python bench/vs_label_studio.py "
        "--install` first (bench/README.md)",
    ),
]


def test_label_studio_imports_the_export(world: World, tmp_path: Path) -> None:  # noqa: F811
    images = tmp_path / "images"
    (images / "sub dir").mkdir(parents=True)
    for i, name in enumerate(["sub dir/a.jpg", "b.jpg", "c.png"]):
        Image.new("RGB", (64, 48), (40 * i, 90, 200)).save(images / name)
    world.dataset.images_root = str(images)
    world.dataset.save()
    export = tmp_path / "tasks.json"
    with export.open("wb") as handle:
        for chunk in FORMATS["labelstudio"].chunks(dataset=world.dataset, scope="all"):
            handle.write(chunk.data)
    tasks = json.loads(export.read_bytes())
    predictions = sum(len(t["predictions"]) for t in tasks)
    annotations = sum(len(t["annotations"]) for t in tasks)
    env = {
        # Our people are not Label Studio users: their annotations go to the importing admin.
        "ALLOW_IMPORT_TASKS_WITH_UNKNOWN_EMAILS": "true",
        # Validate each prediction against the config on import (off by default in 1.23).
        "fflag_feat_utc_210_prediction_validation_15082025": "true",
        # data.image is a local-files URL relative to the images root (docs/formats.md).
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(images.parent),
    }
    with LabelStudio(tmp_path / "ls", server="gunicorn", workers=1, env=env) as ls:
        config = labelstudio_config_xml(dataset=world.dataset)
        project = ls.api("POST", "/api/projects/", {"title": "EmoReview", "label_config": config})
        imported = ls.upload(f"/api/projects/{project['id']}/import", export)
        assert (imported["task_count"], imported["prediction_count"]) == (3, predictions)
        assert imported["annotation_count"] == annotations == 3
        stored = ls.api("GET", f"/api/projects/{project['id']}/")
        assert stored["task_number"] == 3
        assert stored["total_predictions_number"] == predictions
        assert stored["total_annotations_number"] == annotations
        listed = ls.api("GET", f"/api/tasks/?project={project['id']}&page_size=10")
        ids = [t["id"] for t in listed["tasks"]]
        served = [ls.api("GET", f"/api/tasks/{i}/") for i in ids]
        storage = {"project": project["id"], "path": str(images), "title": "images"}
        ls.api("POST", "/api/storages/localfiles/", storage)
        browser = ls.browser()
        for task in served:
            with browser.open(ls.url + task["data"]["image"]) as response:
                assert response.read() == (images / task["data"]["meta"]["image_path"]).read_bytes()
    adjudicated = next(t for t in served if t["data"]["meta"]["sample_id"] == world.adjudicated.pk)
    machine = next(p for p in adjudicated["predictions"] if p["model_version"] == "grounding-dino")
    (brush,) = [r for r in machine["result"] if r["type"] == "brushlabels"]
    assert np.array_equal(decoded(brush), world.machine_mask)
    answers = [a for a in adjudicated["annotations"] if not a["ground_truth"]]
    masks = [r for a in answers for r in a["result"] if r["type"] == "brushlabels"]
    assert len(masks) == 1 and np.array_equal(decoded(masks[0]), world.ann_mask)
