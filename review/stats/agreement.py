"""Agreement between raters: pairwise agreement, unanimity, Cohen's and Fleiss' kappa."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from review.stats._coding import IntArray, UnitValues, as_codes, as_ratings, unit_values
from review.stats.confusion import confusion_matrix

Weights = Literal["linear", "quadratic"] | None


def pairwise_agreement(ratings: npt.ArrayLike) -> tuple[float | None, int]:
    """(share of agreeing pairs, number of pairs) over every pair of ratings within a unit."""
    return pairwise_from_unit_values(unit_values(as_ratings(ratings)))


def pairwise_from_unit_values(uv: UnitValues) -> tuple[float | None, int]:
    same = uv.counts.data
    agreeing = float((same * (same - 1)).sum()) / 2
    pairs = int((uv.per_unit * (uv.per_unit - 1)).sum() // 2)
    return (agreeing / pairs if pairs else None), pairs


def unanimous_share(ratings: npt.ArrayLike) -> tuple[float | None, int]:
    """(share of units whose ratings are all equal, units with two or more ratings)."""
    return unanimous_from_unit_values(unit_values(as_ratings(ratings)))


def unanimous_from_unit_values(uv: UnitValues) -> tuple[float | None, int]:
    multi = uv.per_unit >= 2
    distinct = np.diff(uv.counts.indptr)
    units = int(multi.sum())
    unanimous = int((multi & (distinct == 1)).sum())
    return (unanimous / units if units else None), units


def category_counts(ratings: npt.ArrayLike, *, n_categories: int) -> IntArray:
    """Units x categories table of how many raters chose each category (input for Fleiss)."""
    codes = as_codes(ratings, n_categories=n_categories, name="ratings")
    if codes.ndim != 2:
        raise ValueError(f"ratings must be 2-d (units x raters), got shape {codes.shape}")
    units, raters = np.nonzero(codes >= 0)
    flat = units * n_categories + codes[units, raters]
    table = np.bincount(flat, minlength=codes.shape[0] * n_categories)
    return table.reshape(codes.shape[0], n_categories).astype(np.int64)


def fleiss_kappa(counts: npt.ArrayLike) -> float | None:
    """Fleiss' kappa of a units x categories count table.

    None unless there is a unit and every unit has the same number n >= 2 of ratings, or when
    all ratings fall in one category (chance agreement is then 1).
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"counts must be 2-d (units x categories), got shape {table.shape}")
    if (table < 0).any():
        raise ValueError("counts must not be negative")
    per_unit = table.sum(axis=1)
    if not len(per_unit) or per_unit[0] < 2 or (per_unit != per_unit[0]).any():
        return None
    return fleiss_from_totals(
        category_totals=table.sum(axis=0),
        sum_of_squares=float((table * table).sum()),
        n_units=len(per_unit),
        n=float(per_unit[0]),
    )


def fleiss_from_unit_values(uv: UnitValues) -> float | None:
    """Fleiss' kappa over the units with at least one rating (values as categories)."""
    rated = uv.per_unit[uv.per_unit > 0]
    if not len(rated) or rated[0] < 2 or (rated != rated[0]).any():
        return None
    return fleiss_from_totals(
        category_totals=np.asarray(uv.counts.sum(axis=0), dtype=np.float64).reshape(-1),
        sum_of_squares=float((uv.counts.data**2).sum()),
        n_units=len(rated),
        n=float(rated[0]),
    )


def fleiss_from_totals(
    *, category_totals: npt.NDArray[np.float64], sum_of_squares: float, n_units: int, n: float
) -> float | None:
    observed = (sum_of_squares - n_units * n) / (n_units * n * (n - 1))
    share = category_totals / (n_units * n)
    chance = float((share * share).sum())
    if chance >= 1:
        return None
    return (observed - chance) / (1 - chance)


def cohen_kappa(
    a: npt.ArrayLike, b: npt.ArrayLike, *, n_categories: int, weights: Weights = None
) -> float | None:
    """Cohen's kappa of two raters' codes (optionally weighted, as sklearn's `weights`).

    Pairs with a missing side are ignored. None when no pair is left or chance agreement is
    total (both raters used one and the same category throughout).
    """
    return kappa_from_confusion(confusion_matrix(a, b, n_categories=n_categories), weights=weights)


def kappa_from_confusion(confusion: npt.ArrayLike, *, weights: Weights = None) -> float | None:
    """Cohen's kappa of a K x K confusion matrix (rows: one rater, columns: the other)."""
    observed = np.asarray(confusion, dtype=np.float64)
    n = observed.sum()
    if n == 0:
        return None
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    idx = np.arange(observed.shape[0])
    if weights is None:
        w = (idx[:, None] != idx[None, :]).astype(np.float64)
    elif weights == "linear":
        w = np.abs(idx[:, None] - idx[None, :]).astype(np.float64)
    elif weights == "quadratic":
        w = ((idx[:, None] - idx[None, :]) ** 2).astype(np.float64)
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    chance = float((w * expected).sum())
    if chance == 0:
        return None
    return 1.0 - float((w * observed).sum()) / chance
