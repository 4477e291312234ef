"""Data shared by the statistics tests: random rating matrices and published examples."""

from __future__ import annotations

import numpy as np


def random_ratings(
    seed: int,
    *,
    units: int = 300,
    raters: int = 4,
    categories: int = 5,
    missing: float = 0.3,
    agreement: float = 0.6,
) -> np.ndarray:
    """Units x raters category codes with NaN holes; raters copy a unit's 'true' code often."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, categories, size=(units, 1))
    noise = rng.integers(0, categories, size=(units, raters))
    codes = np.where(rng.random((units, raters)) < agreement, truth, noise).astype(np.float64)
    codes[rng.random((units, raters)) < missing] = np.nan
    return codes


NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E:
# 4 observers (rows) x 12 units (columns), values 1-5, with missing data.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
