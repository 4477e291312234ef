"""The bounded working copy (annotator/adapters/segmenters/working_copy.py): decoding within a
bound, and masks scaled back to full size as RLE without a full-size array."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotator.adapters.segmenters import Prompt
from annotator.adapters.segmenters.working_copy import encode_upscaled, load_work_image
from annotator.lib.rle import encode_mask


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


def test_prompts_are_scaled_into_the_copy(tmp_path):
    Image.new("L", (4000, 2000), 0).save(tmp_path / "wide.png")
    work = load_work_image(tmp_path / "wide.png", max_side=1000)
    assert work.pixels.shape == (500, 1000, 3) and work.scaled
    scaled = work.prompt_in(Prompt(points=[(2000.0, 1000.0)], labels=[1], box=(0, 0, 4000, 2000)))
    assert scaled.points == [(500.0, 250.0)] and scaled.box == (0, 0, 1000.0, 500.0)
    assert work.key("abc") == "abc@1000x500"
