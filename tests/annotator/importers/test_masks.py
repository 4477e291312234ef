"""Masks on import: `mask_path` files and inline `masks` (COCO RLE), checked with pycocotools."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from annotator.lib.rle import encode_mask
from annotator.models import Region
from tests.annotator.importers.helpers import (
    import_lines,
    import_problems,
    proposal,
    record,
)
from tests.factories import RegionFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

WIDTH, HEIGHT = 64, 48  # the conftest images


def save_mask(root: Path, name: str, pixels: np.ndarray, mode: str = "L") -> np.ndarray:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((pixels * 255).astype(np.uint8)).convert(mode).save(root / name)
    return pixels.astype(bool)


def blob(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    pixels = np.zeros((HEIGHT, WIDTH), dtype=bool)
    pixels[top:bottom, left:right] = True
    pixels[top, left] = False  # not a plain rectangle
    return pixels


def emoverse(**fields: object) -> dict[str, object]:
    return record("ev-1", "a.jpg", emotion="awe", subject="hiker", background="glacier", **fields)


def decoded(region: Region) -> np.ndarray:
    rle = dict(region.mask or {})
    return coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def test_mask_path_becomes_a_subject_region_with_the_files_pixels(tmp_path, images_root):
    pixels = save_mask(images_root, "masks/ev-1.png", blob(5, 7, 30, 41))
    import_lines(tmp_path, images_root, emoverse(mask_path="masks/ev-1.png"))
    region = Region.objects.get()
    assert (region.role, region.phrase, region.origin, region.model_name) == (
        "subject",
        "hiker",
        "import",
        "emoverse",
    )
    assert np.array_equal(decoded(region), pixels)
    assert region.box == [7.0, 5.0, 41.0, 30.0]  # the mask's bounding box, pixel edges
    counts = dict(region.mask or {})["counts"].encode()
    x, y, w, h = coco_mask.toBbox({"size": [HEIGHT, WIDTH], "counts": counts})
    assert [x, y, x + w, y + h] == region.box


@pytest.mark.parametrize("mode", ["1", "L", "P", "I;16"])
def test_single_channel_modes_are_read_nonzero_inside(tmp_path, images_root, mode):
    pixels = save_mask(images_root, "m.png", blob(1, 2, 10, 20), mode=mode)
    import_lines(tmp_path, images_root, emoverse(mask_path="m.png"))
    assert np.array_equal(decoded(Region.objects.get()), pixels)


def test_mask_path_object_names_roles(tmp_path, images_root):
    save_mask(images_root, "bg.png", blob(0, 0, 48, 30))
    save_mask(images_root, "s.png", blob(10, 40, 40, 60))
    import_lines(
        tmp_path, images_root, emoverse(mask_path={"background": "bg.png", "subject": "s.png"})
    )
    found = sorted(Region.objects.values_list("role", "phrase"))
    assert found == [("background", "glacier"), ("subject", "hiker")]


def test_mask_path_problems_name_line_field_and_sizes(tmp_path, images_root):
    save_mask(images_root, "small.png", np.ones((24, 32)))
    save_mask(images_root, "rgb.png", blob(1, 1, 9, 9), mode="RGB")
    save_mask(images_root, "empty.png", np.zeros((HEIGHT, WIDTH)))
    found = import_problems(
        tmp_path,
        images_root,
        emoverse(mask_path="small.png"),
        {**emoverse(mask_path="rgb.png"), "id": "2"},
        {**emoverse(mask_path="empty.png"), "id": "3"},
        {**emoverse(mask_path="gone.png"), "id": "4"},
        {**emoverse(mask_path="../x.png"), "id": "5"},
        {**emoverse(mask_path={"face": "s.png"}), "id": "6"},
        record("7", "a.jpg", mask_path="small.png"),
    )
    assert found == [
        "f.jsonl:1: mask_path: 'small.png' is 32x24; the image is 64x48",
        "f.jsonl:2: mask_path: 'rgb.png' has 3 channels (RGB); a mask has one (nonzero = inside)",
        "f.jsonl:3: mask_path: 'empty.png' has no pixel inside the mask (all zero)",
        "f.jsonl:4: mask_path: 'gone.png' does not exist under the images root",
        "f.jsonl:5: mask_path: '../x.png' contains '..'; it must stay inside the images root",
        "f.jsonl:6: mask_path: 'face' is not a role (background, attribute, subject)",
        "f.jsonl:7: mask_path: needs an annotation (an emotion) to belong to",
    ]


def inline(pixels: np.ndarray | None, **fields: object) -> dict[str, object]:
    mask = encode_mask(pixels) if pixels is not None else None
    return {"role": "attribute", "phrase": "tiny", "box": [2, 3, 20, 30], "mask": mask, **fields}


def test_inline_masks_are_stored_as_given(tmp_path, images_root):
    pixels = blob(3, 2, 30, 20)
    given = inline(pixels)
    line = record("s1", "a.jpg", proposals=[proposal("gpt-4o", masks=[given])])
    import_lines(tmp_path, images_root, line)
    region = Region.objects.get()
    assert (region.role, region.phrase, region.box, region.model_name) == (
        "attribute",
        "tiny",
        [2.0, 3.0, 20.0, 30.0],
        "gpt-4o",
    )
    assert region.mask == given["mask"]
    assert np.array_equal(decoded(region), pixels)
    assert "masks" not in region.sample.proposals.get().raw  # stored once, as the region


def test_inline_mask_problems(tmp_path, images_root):
    good = encode_mask(blob(3, 2, 30, 20))
    wrong_size = encode_mask(np.ones((10, 10), dtype=bool))
    bad_masks = [
        inline(None, role="face", mask=good),
        inline(None, mask=wrong_size),
        inline(None, mask={"size": [HEIGHT, WIDTH], "counts": wrong_size["counts"]}),
        inline(None, mask={"size": [HEIGHT, WIDTH], "counts": "o"}),
        inline(None, mask={"size": [HEIGHT, WIDTH], "counts": [1, 2]}),
        inline(None, mask=good, box=[0, 0, 65, 10]),
        {"role": "subject"},
    ]
    found = sorted(import_problems(tmp_path, images_root, emoverse(masks=bad_masks)))
    assert found[0] == (
        "f.jsonl:1: masks[0].role: 'face' is not a role (background, attribute, subject)"
    )
    assert found[1] == (
        "f.jsonl:1: masks[1].mask: size [10, 10] is not the image's [height, width] [48, 64]"
    )
    assert found[2] == "f.jsonl:1: masks[2].mask: counts cover 100 pixels, not 48x64 = 3072"
    assert found[3] == "f.jsonl:1: masks[3].mask: RLE counts end in the middle of a number"
    assert found[4] == "f.jsonl:1: masks[4].mask: counts must be a compressed RLE string"
    assert found[5] == ("f.jsonl:1: masks[5].box: box [0, 0, 65, 10] lies outside the 64x48 image")
    assert found[6:] == ["f.jsonl:1: masks[6].mask: missing"]


def test_reimport_replaces_import_regions_and_keeps_peoples(tmp_path, images_root):
    save_mask(images_root, "m.png", blob(1, 2, 10, 20))
    line = emoverse(mask_path="m.png", bbox=[1, 1, 9, 9], masks=[inline(blob(3, 2, 30, 20))])
    import_lines(tmp_path, images_root, line)
    first = sorted(Region.objects.values_list("role", "x1", "y1", "x2", "y2", "mask"), key=str)
    person = RegionFactory.create(
        sample=Region.objects.get(mask__isnull=True).sample, origin="person"
    )
    import_lines(tmp_path, images_root, line)
    again = Region.objects.exclude(pk=person.pk)
    assert sorted(again.values_list("role", "x1", "y1", "x2", "y2", "mask"), key=str) == first
    assert len(first) == 3 and Region.objects.filter(pk=person.pk).exists()
