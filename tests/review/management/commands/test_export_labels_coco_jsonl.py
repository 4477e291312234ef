"""`manage.py export_labels --format coco|jsonl`: the files it writes load in the outside tools,
and the JSONL goes back in through `manage.py import_samples`."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from pycocotools.coco import COCO

from tests.review.services.rich_export import Rich, make_rich


@pytest.fixture
def rich(db, images_root: Path) -> Rich:
    return make_rich(images_root=images_root)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_coco_from_the_command_loads_in_pycocotools(rich: Rich, tmp_path: Path):
    path = tmp_path / "rich.coco.json"
    message = run("export_labels", "--dataset", "rich", "--format", "coco", "--out", str(path))
    assert message.splitlines()[0] == f"Wrote 3 rows (decided) of rich to {path} (coco)"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 4
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [
        "background",
        "attribute",
        "subject",
    ]


def test_jsonl_from_the_command_goes_back_in_unchanged(rich: Rich, tmp_path, images_root):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    message = run("export_labels", "--dataset", "rich", "--format", "jsonl", "--out", str(first))
    assert message.splitlines()[0] == f"Wrote 3 rows (decided) of rich to {first} (jsonl)"
    assert pd.read_json(first, lines=True).shape == (3, 13)
    run("import_samples", str(first), "--dataset", "again", "--images-root", str(images_root))
    run("export_labels", "--dataset", "again", "--format", "jsonl", "--out", str(second))
    assert second.read_bytes() == first.read_bytes()
