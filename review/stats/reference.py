"""Each rater's agreement with a reference: gold labels, the final label, or the consensus."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from review.stats._coding import FloatArray, IntArray, UnitValues, as_ratings, unit_values


class RaterAgreement(NamedTuple):
    """Per rater (column): ratings that matched the reference, and ratings compared."""

    agree: IntArray
    n: IntArray

    def rates(self) -> list[float | None]:
        return [(int(a) / int(n) if n else None) for a, n in zip(self.agree, self.n, strict=True)]


def agreement_with_reference(
    ratings_by_rater: npt.ArrayLike, reference: npt.ArrayLike
) -> RaterAgreement:
    """Per column of a units x raters matrix, how often it equals `reference` (one per unit).

    Units where the rating or the reference is missing are not compared.
    """
    ratings = as_ratings(ratings_by_rater, name="ratings_by_rater")
    ref = as_ratings(np.asarray(reference, dtype=np.float64).reshape(-1, 1), name="reference")
    if ref.shape[0] != ratings.shape[0]:
        raise ValueError(f"reference has {ref.shape[0]} units, ratings {ratings.shape[0]}")
    compared = ~np.isnan(ratings) & ~np.isnan(ref)
    agree = compared & (ratings == ref)
    return RaterAgreement(
        agree=np.count_nonzero(agree, axis=0).astype(np.int64),
        n=np.count_nonzero(compared, axis=0).astype(np.int64),
    )


class _Top(NamedTuple):
    """Per unit: the highest count, how many values reach it, and the next lower count."""

    first: FloatArray
    ties: IntArray
    second: FloatArray


def _top_counts(uv: UnitValues) -> _Top:
    rows = uv.entry_rows()
    data = uv.counts.data
    first = np.zeros(uv.n_units)
    second = np.zeros(uv.n_units)
    np.maximum.at(first, rows, data)
    at_top = data == first[rows]
    np.maximum.at(second, rows[~at_top], data[~at_top])
    ties = np.bincount(rows[at_top], minlength=uv.n_units).astype(np.int64)
    return _Top(first=first, ties=ties, second=second)


def majority_labels(ratings: npt.ArrayLike, *, min_ratings: int = 1) -> FloatArray:
    """Per unit, the value given most often; NaN on a tie or with fewer than `min_ratings`."""
    uv = unit_values(as_ratings(ratings))
    top = _top_counts(uv)
    rows = uv.entry_rows()
    data = uv.counts.data
    winner = (data == top.first[rows]) & (top.ties[rows] == 1)
    labels = np.full(uv.n_units, np.nan)
    labels[rows[winner]] = uv.values[uv.counts.indices[winner]]
    labels[uv.per_unit < max(min_ratings, 1)] = np.nan
    return labels


def agreement_with_consensus(ratings: npt.ArrayLike) -> RaterAgreement:
    """Per rater, agreement with the majority of the *other* ratings of each unit.

    Leaving the rater out keeps their own vote from inflating the figure. A rating is not
    compared when the unit has no other rating or the others are tied.
    """
    uv = unit_values(as_ratings(ratings))
    top = _top_counts(uv)
    units, raters = uv.rating_units, uv.rating_raters
    own = uv.counts.data[uv.rating_entries()]  # how many gave this rating's value, itself included
    first, ties, second = top.first[units], top.ties[units], top.second[units]
    on_top = own == first
    # Without this rating, its value keeps own - 1 votes; the others keep theirs.
    sole_top_wins = on_top & (ties == 1) & (own - 1 > second)
    other_top_wins = np.where(on_top, ties == 2, ties == 1)
    compared = (uv.per_unit[units] >= 2) & (sole_top_wins | other_top_wins)
    agree = np.bincount(raters[sole_top_wins & compared], minlength=uv.n_raters)
    n = np.bincount(raters[compared], minlength=uv.n_raters)
    return RaterAgreement(agree=agree.astype(np.int64), n=n.astype(np.int64))
