"""Mask overlays for the page: 1-bit PNGs in the element's colour, transparent elsewhere.

A PNG of a mask is far smaller than its COCO RLE when the mask is ragged (SAM with random
weights: 25 KB against 60-95 KB at 768x512) and about as small when it is smooth. The PNG is
written here directly (palette, bit depth 1, filter 0, zlib level 1): about half the time of
Pillow's encoder, whose adaptive filtering buys nothing on two-colour images.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotator.adapters.segmenters import score_is_informative
from annotator.lib.rle import decode_mask, is_near_empty, mask_area
from review.selectors.masks import Candidate, MaskState, PersonMask, ShownMask

# The roles' colours in static/css/app.css.
ROLE_RGB = {"background": (47, 111, 228), "attribute": (224, 138, 0), "subject": (214, 51, 108)}
PNG_ALPHA = 120  # translucent, for an <img> over the image (no JavaScript, thumbnails)
# Opaque for the page's canvas: masks.js applies the person's opacity (and outline) itself.
CANVAS_ALPHA = 255
# Exact up to this many pixels on the long side (about what the page displays). A state partial
# carries the alternatives' overlays too while all overlays stay within the budget: smooth masks
# (a few KB each) cycle without a round trip; ragged ones (tens of KB) come one at a time, which
# keeps a click's answer under 50 000 bytes and quick to make.
OVERLAY_MAX_SIDE = 1024
OVERLAY_BUDGET = 24_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def _scaled(mask: np.ndarray, max_side: int | None) -> np.ndarray:
    height, width = mask.shape
    if max_side is None or max(height, width) <= max_side:
        return mask
    scale = max_side / max(height, width)
    rows = (np.arange(max(1, round(height * scale))) / scale).astype(np.intp)
    cols = (np.arange(max(1, round(width * scale))) / scale).astype(np.intp)
    return mask[np.ix_(rows, cols)]  # nearest neighbour


def mask_png(
    masks: Sequence[ShownMask], *, role: str, max_side: int | None, alpha: int = PNG_ALPHA
) -> bytes:
    """The masks (of one image) as one PNG, scaled down to `max_side` on the long side, in the
    element's colour with `alpha` (transparent elsewhere)."""
    union = decode_mask(masks[0].rle)
    for other in masks[1:]:
        if list(other.rle["size"]) == list(masks[0].rle["size"]):
            union |= decode_mask(other.rle)
    # Row-major first: pycocotools decodes column-major, and packbits along the rows of a
    # column-major array takes 40x longer than the copy (1.3 ms against 0.03 ms at 768x512).
    mask = np.ascontiguousarray(_scaled(union, max_side))
    height, width = mask.shape
    packed = np.packbits(mask, axis=1)
    scanlines = np.zeros((height, packed.shape[1] + 1), dtype=np.uint8)  # filter byte 0
    scanlines[:, 1:] = packed
    header = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)  # 1 bit, palette
    return b"".join(
        [
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", bytes([0, 0, 0, *ROLE_RGB[role]])),
            _chunk(b"tRNS", bytes([0, alpha])),
            _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 1)),
            _chunk(b"IEND", b""),
        ]
    )


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _overlay(rle: dict[str, Any], role: str) -> str:
    mask = ShownMask(rle=rle, segmenter="", origin="", score=None)
    png = mask_png([mask], role=role, max_side=OVERLAY_MAX_SIDE, alpha=CANVAS_ALPHA)
    return _data_url(png)


@dataclass(frozen=True)
class MaskReading:
    """What the status line says of the shown mask, read from its RLE and its edit.

    `area`: its foreground pixels (all of the element's masks together); `empty`: none, or
    fewer than rle.NEAR_EMPTY_SHARE of the image (annotator.lib.rle.is_near_empty); `score`:
    the stored score when it says something about a mask that is there, else None (an empty
    mask, or GrabCut's click agreement at 1.0, which it is by construction).
    """

    area: int
    empty: bool
    score: float | None


def mask_reading(state: MaskState) -> MaskReading | None:
    """How the element's shown mask reads; None when it shows none."""
    shown = state.shown_mask
    if shown is None:
        return None
    area = sum(mask_area(m.rle) for m in state.masks)
    empty = is_near_empty(area=area, size=shown.rle["size"])
    clicks = len(state.shown.points) if state.shown is not None else 0  # machine masks: none
    score = shown.score
    if score is not None and not score_is_informative(
        segmenter=shown.segmenter, clicks=clicks, score=score
    ):
        score = None
    return MaskReading(area=area, empty=empty, score=None if empty else score)


@dataclass(frozen=True)
class Overlays:
    """What the page draws for an element, as PNG data URLs (opaque: the page sets opacity).

    `shown`: what the element shows now, whatever the segmenter made: the machine's masks, or
    the chosen candidate of the person's edit (`shown_candidate`, its index; None for machine
    masks). `candidates`: each candidate of the person's edit with its overlay while all stay
    within OVERLAY_BUDGET, else "" (choosing it draws it when the server answers); "" for the
    chosen one too, which is in `shown`. `reading`: how the shown mask reads (mask_reading).
    """

    shown: list[str]
    candidates: list[tuple[Candidate, str]]
    shown_candidate: int | None = None
    reading: MaskReading | None = None


def state_overlays(state: MaskState) -> Overlays:
    if not state.candidates:
        shown = [_overlay(m.rle, state.role) for m in state.masks]
        return Overlays(shown=shown, candidates=[], reading=mask_reading(state))
    chosen = next(c for c in state.candidates if c.chosen)
    shown_url = _overlay(chosen.rle, state.role)
    urls: dict[int, str] = {}
    spent = len(shown_url)
    for candidate in state.candidates:
        # A data URL comes to at least ~0.4 byte per RLE character on the ragged masks that
        # strain the budget: skip encoding ones that cannot fit.
        if candidate.chosen or spent + len(candidate.rle["counts"]) // 3 > OVERLAY_BUDGET:
            continue
        url = _overlay(candidate.rle, state.role)
        if spent + len(url) <= OVERLAY_BUDGET:
            urls[candidate.index] = url
            spent += len(url)
    return Overlays(
        shown=[shown_url],
        candidates=[(c, urls.get(c.index, "")) for c in state.candidates],
        shown_candidate=chosen.index,
        reading=mask_reading(state),
    )


THUMBNAIL_SIDE = 160


def people_mask_thumbnails(masks: Sequence[PersonMask]) -> list[tuple[PersonMask, str]]:
    """Each person's mask with a small PNG of it (THUMBNAIL_SIDE px on the long side)."""
    return [(m, _thumbnail(m)) for m in masks]


def _thumbnail(mask: PersonMask) -> str:
    shown = ShownMask(rle=mask.rle, segmenter=mask.segmenter, origin="person", score=mask.score)
    return _data_url(mask_png([shown], role=mask.role, max_side=THUMBNAIL_SIDE))
