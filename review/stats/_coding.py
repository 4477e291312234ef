"""Turning rating arrays into the forms the statistics work on.

A rating is missing when it is NaN or negative. Category codes and confidences are never
negative, so callers may mark a missing rating with NaN or with -1 (integer arrays cannot hold
NaN). Everything here is vectorised: no Python loop runs per unit or per rating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


_LOOKUP_LIMIT = 1 << 20  # factorize() uses a lookup table for non-negative integers below this


def as_ratings(ratings: npt.ArrayLike, *, name: str = "ratings") -> FloatArray:
    """`ratings` as a units x raters float array with NaN for every missing rating.

    The caller's array is never modified (a copy is made when negatives must become NaN).
    """
    arr = np.asarray(ratings, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-d (units x raters), got shape {arr.shape}")
    negative = arr < 0
    return np.where(negative, np.nan, arr) if negative.any() else arr


def factorize(x: npt.ArrayLike) -> tuple[npt.NDArray[np.generic], IntArray]:
    """(distinct values ascending, code of each element) for a 1-d array.

    Small non-negative integers (category codes, 0-10 confidences, user ids) go through a
    lookup table in O(n); anything else (strings, fractions) is sorted by np.unique.
    """
    arr = np.asarray(x).reshape(-1)
    if arr.size and arr.dtype.kind in "iuf" and arr.min() >= 0 and arr.max() < _LOOKUP_LIMIT:
        ints = arr.astype(np.int64)
        if arr.dtype.kind != "f" or np.array_equal(ints, arr):
            seen = np.bincount(ints) > 0
            lookup = np.cumsum(seen) - 1
            return np.flatnonzero(seen).astype(arr.dtype), lookup[ints]
    keys, codes = np.unique(arr, return_inverse=True)
    return keys, codes.reshape(-1).astype(np.int64)


def as_codes(x: npt.ArrayLike, *, n_categories: int, name: str) -> IntArray:
    """Category codes 0..n_categories-1 as int64, -1 where missing; anything else is an error."""
    if n_categories < 1:
        raise ValueError(f"n_categories must be at least 1, got {n_categories}")
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        codes = arr.astype(np.int64)
        codes[codes < 0] = -1
    else:
        values = arr.astype(np.float64)
        missing = np.isnan(values) | (values < 0)
        kept = values[~missing]
        if not np.array_equal(kept, np.floor(kept)):
            raise ValueError(f"{name} holds a non-integer category code")
        codes = np.where(missing, -1, values).astype(np.int64)
    if codes.size and codes.max() >= n_categories:
        raise ValueError(f"{name} holds code {codes.max()}, but n_categories is {n_categories}")
    return codes


@dataclass(frozen=True)
class UnitValues:
    """Ratings regrouped per unit: how many raters gave each distinct value to each unit."""

    values: FloatArray  # (V,) the distinct rated values, ascending
    counts: sp.csr_array  # (units, V) raters per unit and value; canonical (sorted, no dupes)
    per_unit: IntArray  # (units,) ratings per unit
    n_raters: int
    rating_units: IntArray  # (ratings,) the unit of each present rating, row-major order
    rating_raters: IntArray  # (ratings,) its rater (column)
    rating_values: IntArray  # (ratings,) its value's index into `values`

    @property
    def n_units(self) -> int:
        return int(self.per_unit.shape[0])

    def entry_rows(self) -> IntArray:
        """The unit of every stored entry of `counts`."""
        return np.repeat(np.arange(self.n_units, dtype=np.int64), np.diff(self.counts.indptr))

    def rating_entries(self) -> IntArray:
        """For each present rating, the index of its (unit, value) entry in `counts.data`."""
        width = max(len(self.values), 1)
        entry_keys = self.entry_rows() * width + self.counts.indices
        return np.searchsorted(entry_keys, self.rating_units * width + self.rating_values)


def unit_values(ratings: FloatArray) -> UnitValues:
    """Regroup a units x raters matrix (NaN = missing, as from `as_ratings`)."""
    n_units, n_raters = ratings.shape
    flat = np.flatnonzero(~np.isnan(ratings))
    units, raters = np.divmod(flat, max(n_raters, 1))
    rated = ratings.reshape(-1)[flat]
    if np.isinf(rated).any():
        raise ValueError("ratings hold an infinite value; use NaN or -1 for a missing rating")
    values, codes = factorize(rated)
    width = max(len(values), 1)
    # Sorting the (unit, value) keys groups equal ratings of a unit next to each other.
    keys = np.sort(units * width + codes)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(keys)))
    entry_keys = keys[starts]
    indptr = np.zeros(n_units + 1, dtype=np.int64)
    np.cumsum(np.bincount(entry_keys // width, minlength=n_units), out=indptr[1:])
    matrix = sp.csr_array(
        (counts.astype(np.float64), entry_keys % width, indptr), shape=(n_units, len(values))
    )
    return UnitValues(
        values=values.astype(np.float64),
        counts=matrix,
        per_unit=np.bincount(units, minlength=n_units).astype(np.int64),
        n_raters=n_raters,
        rating_units=units.astype(np.int64),
        rating_raters=raters.astype(np.int64),
        rating_values=codes,
    )
