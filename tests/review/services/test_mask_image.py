"""Segmentation on a bounded working copy: an 88-megapixel image is segmented at most
MASK_WORK_MAX_SIDE on its long side, with the clicks scaled in and the mask scaled back."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image, ImageDraw

from annotator.services.rle import decode_mask, encode_mask, mask_area, mask_bbox
from review.models import Assignment, MaskEdit
from review.services.mask_image import encode_upscaled, load_work_image
from review.services.mask_worker import compute_mask_edit, load_sample_image
from review.services.masks import Click, add_mask_edit
from tests.factories import DatasetFactory, SampleFactory
from tests.support.masks import make_annotator

HUGE = (11_000, 8_000)  # 88 megapixels: 264 MB as an RGB array
OBJECT = (6_000, 2_000, 9_000, 6_000)  # a bright rectangle on a dark ground


def _nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = np.minimum(
        ((np.arange(height) + 0.5) * mask.shape[0] / height).astype(int), mask.shape[0] - 1
    )
    cols = np.minimum(
        ((np.arange(width) + 0.5) * mask.shape[1] / width).astype(int), mask.shape[1] - 1
    )
    return mask[np.ix_(rows, cols)]


@pytest.mark.parametrize(
    "small, full", [((5, 7), (13, 29)), ((40, 30), (81, 60)), ((9, 1), (30, 4))]
)
def test_the_upscaled_rle_is_the_nearest_neighbour_mask_encoded(small, full):
    rng = np.random.default_rng(0)
    for share in (0.0, 0.3, 0.7, 1.0):
        mask = rng.random(small) < share
        expected = encode_mask(_nearest(mask, *full))
        assert encode_upscaled(mask, height=full[0], width=full[1]) == expected


def test_an_image_within_the_bound_is_used_as_it_is(tmp_path):
    Image.new("RGB", (300, 200), "red").save(tmp_path / "small.png")
    work = load_work_image(tmp_path / "small.png", max_side=2048)
    assert work.pixels.shape == (200, 300, 3) and not work.scaled


def test_a_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    Image.new("RGB", (4000, 3000), "green").save(tmp_path / "big.jpg")
    work = load_work_image(tmp_path / "big.jpg", max_side=1000)
    assert work.pixels.shape == (750, 1000, 3) and (work.width, work.height) == (4000, 3000)


@pytest.fixture
def huge_sample(tmp_path, settings):
    settings.SEGMENTER = "grabcut"
    image = Image.new("L", HUGE, 20)
    ImageDraw.Draw(image).rectangle(OBJECT, fill=235)
    image.save(tmp_path / "huge.png", compress_level=1)
    del image
    dataset = DatasetFactory.create(images_root=str(tmp_path), overlap_k=1)
    return SampleFactory.create(
        dataset=dataset, image_path="huge.png", width=HUGE[0], height=HUGE[1]
    )


@pytest.mark.django_db
def test_an_88_megapixel_click_is_segmented_on_a_bounded_copy(huge_sample, settings):
    person = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    Assignment.objects.create(sample=huge_sample, annotator=person, expires_at=expires)
    edit = add_mask_edit(
        sample=huge_sample, role="subject", author=person, click=Click(7500.0, 4000.0, 1)
    )
    tracemalloc.start()
    try:
        assert compute_mask_edit(edit_id=edit.pk) == "done"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The whole image as an array would be 264 MB (RGB) or 88 MB (a full-size mask).
    assert peak < 60 * 1024**2, f"{peak / 1024**2:.0f} MB of arrays for one click"
    work = load_sample_image(sample=huge_sample)
    assert max(work.pixels.shape[:2]) == settings.MASK_WORK_MAX_SIDE
    rle = MaskEdit.objects.get().candidates[0]["rle"]
    assert rle["size"] == [HUGE[1], HUGE[0]]  # the mask is at the image's own size
    x, y, w, h = mask_bbox(rle)
    left, top, right, bottom = OBJECT
    tolerance = 60  # a few working pixels (5.4 image pixels each) at the edges
    assert abs(x - left) < tolerance and abs(y - top) < tolerance
    assert abs(x + w - right) < tolerance and abs(y + h - bottom) < tolerance
    assert mask_area(rle) > 0.9 * (right - left) * (bottom - top)
    assert decode_mask(rle)[4000, 7500]  # the clicked pixel is in it
