"""Binary masks as COCO RLE: the form Region.mask stores ({"size": [h, w], "counts": "..."}).

pycocotools does the run-length coding; it wants Fortran-ordered uint8 and hands back `counts`
as bytes, which we keep as an ASCII string so the RLE is plain JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

Rle = dict[str, Any]


def encode_mask(mask: np.ndarray) -> Rle:
    """A boolean (or 0/1) HxW mask as {"size": [h, w], "counts": str}."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (HxW), got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(bool, copy=False), dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode()}


def _coco(rle: Rle) -> dict[str, Any]:
    try:
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"not a COCO RLE ({{'size': [h, w], 'counts': str}}): {rle!r:.80}"
        ) from exc
    if isinstance(counts, str):
        counts = counts.encode()
    if not isinstance(counts, bytes):
        raise ValueError("RLE counts must be a compressed string (uncompressed lists are refused)")
    return {"size": [height, width], "counts": counts}


def decode_mask(rle: Rle) -> np.ndarray:
    """The boolean HxW mask an RLE from encode_mask describes."""
    return np.asarray(mask_utils.decode(_coco(rle)), dtype=bool)


def mask_area(rle: Rle) -> int:
    """Foreground pixel count, read from the runs without decoding."""
    return int(mask_utils.area(_coco(rle)))


# Below this share of the image a mask reads as empty: a segmenter that found nothing often
# leaves a few stray pixels (under 6x6 at 768x512).
NEAR_EMPTY_SHARE = 0.0001


def is_near_empty(*, area: int, size: Sequence[int]) -> bool:
    """Whether `area` foreground pixels in an image of `size` (height, width) read as empty."""
    height, width = size
    return area == 0 or area < NEAR_EMPTY_SHARE * height * width


def mask_bbox(rle: Rle) -> tuple[int, int, int, int]:
    """COCO box (x, y, width, height) around the foreground; (0, 0, 0, 0) when empty."""
    x, y, w, h = mask_utils.toBbox(_coco(rle))
    return int(x), int(y), int(w), int(h)


def rle_runs(counts: str) -> list[int]:
    """The run lengths a compressed `counts` string holds, read in Python (the LEB128-like code
    of pycocotools' rleFrString), so a string from a file is checked before the C decoder sees
    it: that one reads past the end of a string whose last character says "more follows"."""
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError("RLE counts end in the middle of a number")
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"RLE counts hold {counts[position]!r}, not a run character")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position, shift = position + 1, shift + 5
            if not more and code & 0x10:
                value -= 1 << shift  # sign-extend, as rleFrString does
        if len(runs) > 2:
            value += runs[-2]  # runs after the third are stored as differences
        if value < 0:
            raise ValueError(f"RLE counts hold a negative run ({value})")
        runs.append(value)
    return runs


def checked_rle(value: object) -> Rle:
    """`value` as {"size": [h, w], "counts": str} when its runs cover exactly h*w pixels;
    ValueError otherwise. For RLEs from outside (an import file) before decoding them."""
    if not isinstance(value, dict) or set(value) != {"size", "counts"}:
        raise ValueError('must be {"size": [height, width], "counts": "..."}')
    size, counts = value["size"], value["counts"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise ValueError("size must be [height, width], two positive integers")
    if not isinstance(counts, str):
        raise ValueError("counts must be a compressed RLE string")
    total = sum(rle_runs(counts))
    if total != size[0] * size[1]:
        pixels = size[0] * size[1]
        raise ValueError(f"counts cover {total} pixels, not {size[0]}x{size[1]} = {pixels}")
    return {"size": [size[0], size[1]], "counts": counts}
