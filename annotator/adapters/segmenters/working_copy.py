"""The bounded working copy segmentation runs on: an image whose long side is at most
`max_side` (settings.MASK_WORK_MAX_SIDE for clicks), prompts scaled into it and masks scaled back
to the image's size. Any caller of a Segmenter on a large image can use it (review's mask worker
does: review/services/mask_worker.py).

An 88-megapixel image would cost GrabCut (and the RGB array alone, 264 MB) gigabytes a click;
the working copy costs at most MASK_WORK_MAX_SIDE² x 3 bytes, kept between clicks. A JPEG is
decoded straight at a reduced scale (Pillow's draft mode); other formats are decoded once and
reduced. The masks go back to full size as RLE computed from the small mask's runs, without a
full-size array (encode_upscaled).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from annotator.adapters.segmenters import Prompt
from annotator.lib.rle import Rle, encode_mask


@dataclass(frozen=True)
class WorkImage:
    """The working copy (HxWx3 uint8 RGB) and the size of the image it stands for."""

    pixels: np.ndarray
    width: int
    height: int

    @property
    def scaled(self) -> bool:
        return self.pixels.shape[:2] != (self.height, self.width)

    @property
    def factors(self) -> tuple[float, float]:
        """(x, y) working pixels per image pixel."""
        return self.pixels.shape[1] / self.width, self.pixels.shape[0] / self.height

    def key(self, image_key: str) -> str:
        """The embedding cache key: a reduced copy has its own (its features differ)."""
        if not self.scaled:
            return image_key
        return f"{image_key}@{self.pixels.shape[1]}x{self.pixels.shape[0]}"

    def prompt_in(self, prompt: Prompt) -> Prompt:
        """The prompt in working-copy pixels."""
        if not self.scaled:
            return prompt
        fx, fy = self.factors

        def scaled(box: tuple[float, float, float, float] | None) -> Any:
            return None if box is None else (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)

        points = [(x * fx, y * fy) for x, y in prompt.points]
        return Prompt(
            points=points,
            labels=list(prompt.labels),
            box=scaled(prompt.box),
            hint=scaled(prompt.hint),
        )

    def encode(self, mask: np.ndarray) -> Rle:
        """A working-copy mask as RLE at the image's own size."""
        if not self.scaled:
            return encode_mask(mask)
        return encode_upscaled(mask, height=self.height, width=self.width)


def load_work_image(path: Path, *, max_side: int) -> WorkImage:
    """Decode `path` into a working copy whose long side is at most `max_side`."""
    with Image.open(path) as image:
        width, height = image.size
        if max(width, height) <= max_side:
            return WorkImage(np.asarray(image.convert("RGB")), width, height)
        target = _bounded_size(width, height, max_side)
        image.draft("RGB", target)  # JPEG: decode at 1/2, 1/4 or 1/8 scale; others: no-op
        # Reduced in its own mode where Pillow can (RGB, grey); bilevel as grey; the rest as RGB.
        work: Any = image
        if image.mode not in ("RGB", "L"):
            work = image.convert("L" if image.mode == "1" else "RGB")
        work = work.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
        return WorkImage(np.asarray(work.convert("RGB")), width, height)


def _bounded_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _source_index(full: int, small: int) -> np.ndarray:
    """For each of `full` pixels along an axis, the working pixel it maps to (nearest)."""
    return np.minimum(((np.arange(full) + 0.5) * small / full).astype(np.int64), small - 1)


def encode_upscaled(mask: np.ndarray, *, height: int, width: int) -> Rle:
    """COCO RLE of `mask` scaled (nearest neighbour) to height x width, built from the small
    mask's runs: memory and time grow with the runs, not with the full size."""
    small_h, small_w = mask.shape
    row_weight = np.bincount(_source_index(height, small_h), minlength=small_h)
    column_repeats = np.bincount(_source_index(width, small_w), minlength=small_w)
    counts: list[int] = [0]  # runs alternate 0s and 1s, starting with 0s
    value = False
    for column, repeats in enumerate(column_repeats.tolist()):
        runs = _column_runs(mask[:, column], row_weight) if repeats else []
        for _ in range(repeats):
            for run_value, length in runs:
                if run_value == value:
                    counts[-1] += length
                else:
                    counts.append(length)
                    value = run_value
    coded = mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    return {"size": [height, width], "counts": coded["counts"].decode()}


def _column_runs(column: np.ndarray, row_weight: np.ndarray) -> list[tuple[bool, int]]:
    """(value, full-size length) of each run down one working-copy column."""
    values = column.astype(bool)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.add.reduceat(row_weight, starts)
    return [(bool(values[s]), int(n)) for s, n in zip(starts, lengths, strict=True) if n]
