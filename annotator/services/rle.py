"""Binary masks as COCO RLE: the form Region.mask stores ({"size": [h, w], "counts": "..."}).

pycocotools does the run-length coding; it wants Fortran-ordered uint8 and hands back `counts`
as bytes, which we keep as an ASCII string so the RLE is plain JSON.
"""

from __future__ import annotations

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


def mask_bbox(rle: Rle) -> tuple[int, int, int, int]:
    """COCO box (x, y, width, height) around the foreground; (0, 0, 0, 0) when empty."""
    x, y, w, h = mask_utils.toBbox(_coco(rle))
    return int(x), int(y), int(w), int(h)
