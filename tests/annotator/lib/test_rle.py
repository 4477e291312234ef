from __future__ import annotations

import json

import numpy as np
import pytest

from annotator.lib.rle import decode_mask, encode_mask, mask_area, mask_bbox

# pycocotools' own decoder trips numpy 2's copy-keyword deprecation; nothing we can change.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _round_trip(mask: np.ndarray) -> np.ndarray:
    # Through JSON too: Region.mask is a JSONField.
    return decode_mask(json.loads(json.dumps(encode_mask(mask))))


@pytest.mark.parametrize("seed", range(5))
def test_random_masks_round_trip_exactly(seed: int):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 200, size=2)
    mask = rng.random((height, width)) < rng.random()
    decoded = _round_trip(mask)
    assert decoded.dtype == bool
    assert decoded.shape == mask.shape
    assert np.array_equal(decoded, mask)


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((7, 5), dtype=bool),
        np.ones((7, 5), dtype=bool),
        np.eye(1, dtype=bool),
        np.zeros((1, 1), dtype=bool),
    ],
    ids=["empty", "full", "one-pixel-on", "one-pixel-off"],
)
def test_edge_cases_round_trip(mask: np.ndarray):
    assert np.array_equal(_round_trip(mask), mask)


def test_encoding_is_json_with_size_and_string_counts():
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = True
    rle = encode_mask(mask)
    assert rle["size"] == [3, 4]
    assert isinstance(rle["counts"], str)


def test_non_contiguous_and_0_255_masks_encode_as_their_foreground():
    base = np.zeros((20, 30), dtype=np.uint8)
    base[5:9, 10:20] = 255
    transposed_view = base.T  # Fortran-ordered view of a C array and back
    assert np.array_equal(_round_trip(transposed_view.T), base > 0)


def test_area_and_bbox_are_read_from_the_runs():
    mask = np.zeros((40, 60), dtype=bool)
    mask[10:15, 20:32] = True
    mask[30, 50] = True
    rle = encode_mask(mask)
    assert mask_area(rle) == 5 * 12 + 1
    assert mask_bbox(rle) == (20, 10, 31, 21)  # x, y, w, h
    assert mask_bbox(encode_mask(np.zeros((4, 4), dtype=bool))) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "bad",
    [{}, {"size": [2, 2]}, {"size": "x", "counts": "a"}, {"size": [2, 2], "counts": [1, 3]}],
)
def test_malformed_rle_is_refused_with_a_clear_error(bad: dict):
    with pytest.raises(ValueError, match="RLE"):
        decode_mask(bad)


def test_three_dimensional_input_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((2, 2, 3), dtype=bool))
