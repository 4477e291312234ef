"""Label Studio's brush RLE, written from our masks with numpy.

Label Studio stores a brush mask as the RGBA image of the mask, flattened row by row, run-length
coded in a bit stream (label_studio_sdk.converter.brush.encode_rle / decode_rle): a 32-bit count
of values, a 5-bit word size minus one (8 bits), four 4-bit run-length field sizes minus one
(3, 4, 8, 16), then per run a 1 (a series), 2 bits choosing the field size, the length minus one
and the 8-bit value; runs longer than 2**16 are split. The SDK builds that stream as a Python
string bit by bit (seconds for one large mask); this builds the same bytes with array
arithmetic. Each pixel is four equal bytes (0 or 255), as the SDK's mask2rle writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.lib.rle import decode_mask

_CHANNELS = 4
_WORD_BITS = 8
_FIELD_BITS = (3, 4, 8, 16)
_LONGEST_RUN = 2**16  # a 16-bit length field holds at most this run (length - 1 is stored)


def brush_rle(mask: np.ndarray) -> list[int]:
    """The Label Studio RLE (list of byte values) of an HxW boolean mask: the bytes the SDK's
    mask2rle gives for `mask * 255`, so its decode_rle returns the mask in the alpha channel."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (HxW), got shape {mask.shape}")
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        raise ValueError("mask is empty (0 pixels)")
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.append(starts, flat.size)).astype(np.int64) * _CHANNELS
    values = np.where(flat[starts], 255, 0).astype(np.int64)
    lengths, values = _split_long_runs(lengths, values)
    codes, widths = _run_codes(lengths, values)
    header = [(flat.size * _CHANNELS, 32), (_WORD_BITS - 1, 5)]
    header += [(size - 1, 4) for size in _FIELD_BITS]
    codes = np.concatenate((np.array([c for c, _ in header], dtype=np.int64), codes))
    widths = np.concatenate((np.array([w for _, w in header], dtype=np.int64), widths))
    return _pack(codes, widths)


def brush_rle_from_coco(rle: dict[str, Any]) -> list[int]:
    """The Label Studio RLE of a mask stored as COCO RLE ({"size": [h, w], "counts": str})."""
    return brush_rle(decode_mask(rle))


def _split_long_runs(lengths: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs past 2**16 as full 2**16 pieces and a remainder, in order (as the SDK splits)."""
    pieces = (lengths - 1) // _LONGEST_RUN + 1
    if int(pieces.max()) == 1:
        return lengths, values
    owner = np.repeat(np.arange(lengths.size), pieces)
    last = np.cumsum(pieces) - 1
    split = np.full(owner.size, _LONGEST_RUN, dtype=np.int64)
    split[last] = lengths - (pieces - 1) * _LONGEST_RUN
    return split, values[owner]


def _run_codes(lengths: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each run's bits as an integer and its width: 1, field index (2 bits), length - 1, value.
    Every run is at least 4 values long (4 channels), so the single-value form never occurs."""
    field = np.searchsorted(np.array([8, 16, 256]), lengths, side="left")
    size = np.array(_FIELD_BITS, dtype=np.int64)[field]
    codes = (
        (np.int64(1) << (2 + size + _WORD_BITS))
        | (field.astype(np.int64) << (size + _WORD_BITS))
        | ((lengths - 1) << _WORD_BITS)
        | values
    )
    return codes, 1 + 2 + size + _WORD_BITS


def _pack(codes: np.ndarray, widths: np.ndarray) -> list[int]:
    """The codes' bits, most significant first, packed into bytes; like the SDK, a stream that
    ends on a byte boundary still gets a zero byte after it."""
    total = int(widths.sum())
    owner = np.repeat(np.arange(codes.size), widths)
    position = np.arange(total) - np.repeat(np.cumsum(widths) - widths, widths)
    bits = ((codes[owner] >> (widths[owner] - 1 - position)) & 1).astype(np.uint8)
    packed = np.packbits(bits).tolist()
    if total % 8 == 0:
        packed.append(0)
    return packed
