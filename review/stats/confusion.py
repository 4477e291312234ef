"""Confusion matrices and dispute rates between label sources (models, critic, people)."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from review.stats._coding import BoolArray, IntArray, as_codes, as_ratings, factorize


def confusion_matrix(a: npt.ArrayLike, b: npt.ArrayLike, *, n_categories: int) -> IntArray:
    """K x K counts: row = a's code, column = b's code; pairs with a missing side are ignored."""
    codes_a = as_codes(a, n_categories=n_categories, name="a").reshape(-1)
    codes_b = as_codes(b, n_categories=n_categories, name="b").reshape(-1)
    if codes_a.shape != codes_b.shape:
        raise ValueError(f"a and b differ in length: {codes_a.shape[0]} != {codes_b.shape[0]}")
    both = (codes_a >= 0) & (codes_b >= 0)
    flat = codes_a[both] * n_categories + codes_b[both]
    counts = np.bincount(flat, minlength=n_categories * n_categories)
    return counts.reshape(n_categories, n_categories).astype(np.int64)


def disputed_units(labels_by_model: npt.ArrayLike) -> tuple[BoolArray, BoolArray]:
    """(disputed, comparable) per unit of a units x models label matrix.

    A unit is comparable when at least two labels are present, and disputed when those present
    labels are not all equal.
    """
    labels = as_ratings(labels_by_model, name="labels_by_model")
    comparable = (~np.isnan(labels)).sum(axis=1) >= 2
    # fmax/fmin skip NaN, so a unit's highest and lowest present label differ iff it is disputed.
    high = np.fmax.reduce(labels, axis=1) if labels.shape[1] else np.full(len(labels), np.nan)
    low = np.fmin.reduce(labels, axis=1) if labels.shape[1] else high
    return comparable & (high != low), comparable


def rates_by_group(
    hits: npt.ArrayLike, groups: npt.ArrayLike, *, counted: npt.ArrayLike | None = None
) -> dict[Hashable, tuple[int, int]]:
    """{group: (hits, total)} over the counted units, for every group that occurs in `groups`.

    `groups` must be sortable (all numbers or all strings). Use it for dispute rates per source
    and for how often people overturn each critic verdict (groups = verdicts).
    """
    hit = np.asarray(hits, dtype=bool).reshape(-1)
    keys, inverse = factorize(groups)
    if inverse.shape != hit.shape:
        raise ValueError(f"hits and groups differ in length: {hit.shape[0]} != {inverse.shape[0]}")
    mask = np.ones_like(hit) if counted is None else np.asarray(counted, dtype=bool).reshape(-1)
    total = np.bincount(inverse[mask], minlength=len(keys))
    hit_count = np.bincount(inverse[mask & hit], minlength=len(keys))
    return {k: (int(h), int(t)) for k, h, t in zip(keys.tolist(), hit_count, total, strict=True)}


def dispute_rates(
    labels_by_model: npt.ArrayLike, groups: npt.ArrayLike
) -> dict[Hashable, tuple[int, int]]:
    """{group: (disputed, comparable)} per group, e.g. per source dataset."""
    disputed, comparable = disputed_units(labels_by_model)
    return rates_by_group(disputed, groups, counted=comparable)


def dispute_rates_by_label(
    labels_by_model: npt.ArrayLike, *, n_categories: int
) -> list[tuple[int, int]]:
    """[(disputed, comparable)] per category k, over the comparable units where any model said k."""
    codes = as_codes(labels_by_model, n_categories=n_categories, name="labels_by_model")
    if codes.ndim != 2:
        raise ValueError(f"labels_by_model must be 2-d (units x models), got shape {codes.shape}")
    disputed, comparable = disputed_units(codes)
    proposed = np.zeros((codes.shape[0], n_categories), dtype=bool)
    rows, cols = np.nonzero(codes >= 0)
    proposed[rows, codes[rows, cols]] = True
    disputed_count = proposed[disputed].sum(axis=0)
    total = proposed[comparable].sum(axis=0)
    return [(int(d), int(t)) for d, t in zip(disputed_count, total, strict=True)]
