"""Krippendorff's alpha through the coincidence matrix (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability").

alpha = 1 - D_o / D_e. It is None where the `krippendorff` package raises or answers NaN: no
unit has two or more ratings (nothing is pairable), or the pairable values do not vary
(D_e = 0, e.g. every rating is the same value).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from review.stats._coding import FloatArray, UnitValues, as_ratings, unit_values

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = get_args(Level)


def krippendorff_alpha(ratings: npt.ArrayLike, *, level: Level) -> float | None:
    """Alpha of a units x raters matrix (NaN or negative = missing) at one level of measurement."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    uv = unit_values(as_ratings(ratings))
    return alpha_from_coincidences(coincidences(uv), uv.values, level=level)


def coincidences(uv: UnitValues) -> FloatArray:
    """The V x V coincidence matrix o: each unit's ordered pairs of values, weighted 1/(m_u - 1)."""
    m = uv.per_unit
    weight = np.zeros(m.shape, dtype=np.float64)
    pairable = m >= 2
    weight[pairable] = 1.0 / (m[pairable] - 1)
    weighted = sp.diags_array(weight) @ uv.counts
    # A rating is never paired with itself: remove the n_uv self-pairs from the diagonal.
    return np.asarray((uv.counts.T @ weighted).toarray()) - np.diag(
        np.asarray(weighted.sum(axis=0)).reshape(-1)
    )


def alpha_from_coincidences(o: FloatArray, values: FloatArray, *, level: Level) -> float | None:
    """Alpha from a coincidence matrix over the ascending distinct `values`."""
    n_v = o.sum(axis=0)
    n = float(n_v.sum())
    if n < 2:
        return None
    d = distances(values, n_v, level=level)
    # Expected disagreement: e = (n_v n_v' - diag(n_v)) / (n - 1); d has a zero diagonal.
    expected = float(n_v @ d @ n_v) / (n - 1)
    if expected <= 0:
        return None
    return 1.0 - float((o * d).sum()) / expected


def distances(values: FloatArray, n_v: FloatArray, *, level: Level) -> FloatArray:
    """The squared difference function delta² for every pair of values."""
    a, b = values[:, None], values[None, :]
    if level == "nominal":
        return (a != b).astype(np.float64)
    if level == "interval":
        return np.asarray((a - b) ** 2, dtype=np.float64)
    if level == "ratio":
        total = a + b
        ratio = np.divide(a - b, total, out=np.zeros(total.shape), where=total != 0)
        return np.asarray(ratio**2, dtype=np.float64)
    # Ordinal: the number of pairable values from rank lo to rank hi, minus half of each end.
    idx = np.arange(len(values))
    lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
    cum = np.cumsum(n_v)
    between = cum[hi] - cum[lo] + n_v[lo]
    return np.asarray((between - (n_v[lo] + n_v[hi]) / 2) ** 2, dtype=np.float64)
