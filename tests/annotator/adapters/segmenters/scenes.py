"""Synthetic images with a known object, for segmenter tests."""

from __future__ import annotations

import numpy as np

from annotator.adapters.segmenters import Prompt

# For the 240x320 scenes: ambiguous (a click, a box alone) and unambiguous prompts.
PROMPTS = {
    "one click": Prompt(points=[(150.0, 100.0)], labels=[1]),
    "box": Prompt(box=(60.0, 40.0, 250.0, 190.0)),
    "clicks": Prompt(points=[(150.0, 100.0), (200.0, 60.0), (20.0, 20.0)], labels=[1, 1, 0]),
    "box and click": Prompt(points=[(150.0, 100.0)], labels=[1], box=(60.0, 40.0, 250.0, 190.0)),
}


def ellipse_scene(
    *, seed: int = 0, height: int = 240, width: int = 320
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """A noisy red ellipse on a striped, checked, noisy background.

    Returns the RGB image, the ellipse's true mask and its tight box (x1, y1, x2, y2).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [
            110 + 40 * np.sin(xx / 7.0) + 20 * ((xx // 24 + yy // 24) % 2),
            120 + 30 * np.cos(yy / 5.0),
            100 + 25 * np.sin((xx + yy) / 11.0),
        ],
        axis=-1,
    )
    cy, cx = height * (0.45 + 0.1 * rng.random()), width * (0.4 + 0.2 * rng.random())
    ry, rx = height * 0.28, width * 0.22
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    image = background.copy()
    image[inside] = (220, 60, 40)
    image += rng.normal(0, 18, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), inside, (cx - rx, cy - ry, cx + rx, cy + ry)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
