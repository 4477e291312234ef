"""Stand-in DES vectors for the demo, computed from the pixels (numpy + Pillow, no weights).

EmoVerse's DES comes from a trained model the demo does not ship. So that the DES map has
something to draw, each demo image gets a 1024-d vector: a coarse RGB histogram and the
downscaled grey image, sent through a fixed-seed Gaussian random projection and normalised.
A random projection keeps distances roughly (Johnson-Lindenstrauss), so images with similar
colours and layout land near each other on the map. It is a stand-in, not EmoVerse's DES.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from annotator.importers.fields import DES_SIZE

HIST_BINS = 4  # per channel: 64 colour bins
GREY_SIDE = 16  # 256 grey pixels: the layout
SEED = 20260  # fixed: the same image gives the same vector on every run and machine
FEATURES = HIST_BINS**3 + GREY_SIDE**2


def image_features(path: Path) -> npt.NDArray[np.float64]:
    """The colour histogram (sums to 1) and the centred grey thumbnail, each scaled to unit
    length so that colour and layout weigh the same."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        small = rgb.resize((64, 64), Image.Resampling.BILINEAR)
        grey = rgb.convert("L").resize((GREY_SIDE, GREY_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.int64).reshape(-1, 3) * HIST_BINS // 256
    bins = (pixels[:, 0] * HIST_BINS + pixels[:, 1]) * HIST_BINS + pixels[:, 2]
    hist = np.bincount(bins, minlength=HIST_BINS**3).astype(np.float64)
    layout = np.asarray(grey, dtype=np.float64).ravel() / 255.0
    layout -= layout.mean()
    return np.concatenate([_unit(np.sqrt(hist)), _unit(layout)])


def projection() -> npt.NDArray[np.float64]:
    """The fixed random projection, FEATURES -> DES_SIZE (PCG64 is stable across platforms)."""
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((FEATURES, DES_SIZE)) / np.sqrt(DES_SIZE)


def stand_in_des(path: Path, *, matrix: npt.NDArray[np.float64] | None = None) -> list[float]:
    """The image's 1024-d unit vector, as the float32 values the importer packs."""
    vector = image_features(path) @ (projection() if matrix is None else matrix)
    return [float(v) for v in _unit(vector).astype(np.float32)]


def _unit(vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
