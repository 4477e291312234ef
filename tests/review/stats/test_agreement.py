"""Pairwise agreement, unanimity, Fleiss' and Cohen's kappa against references."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from review.stats import (
    category_counts,
    cohen_kappa,
    fleiss_kappa,
    pairwise_agreement,
    unanimous_share,
)
from tests.review.stats.sample_data import random_ratings

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
FLEISS_WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def brute_pairs(ratings: np.ndarray) -> tuple[int, int, int, int]:
    """(agreeing pairs, pairs, unanimous units, units with 2+ ratings) by plain loops."""
    agreeing = pairs = unanimous = multi = 0
    for row in ratings:
        present = [v for v in row if not np.isnan(v) and v >= 0]
        for x, y in combinations(present, 2):
            pairs += 1
            agreeing += x == y
        if len(present) >= 2:
            multi += 1
            unanimous += len(set(present)) == 1
    return agreeing, pairs, unanimous, multi


def test_fleiss_wikipedia_example():
    assert round(sm_fleiss_kappa(FLEISS_WIKIPEDIA), 3) == 0.210
    assert fleiss_kappa(FLEISS_WIKIPEDIA) == pytest.approx(0.20993070442195522, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_fleiss_matches_statsmodels_on_random_complete_data(seed):
    ratings = random_ratings(seed, raters=3 + seed % 3, categories=6, missing=0.0)
    counts = category_counts(ratings, n_categories=6)
    assert fleiss_kappa(counts) == pytest.approx(sm_fleiss_kappa(counts), abs=1e-9)


@pytest.mark.parametrize(
    "counts",
    [
        np.zeros((0, 4)),  # empty
        np.array([[2, 0], [1, 0]]),  # unequal numbers of ratings
        np.array([[1, 0], [0, 1]]),  # one rating per unit
        np.array([[3, 0], [3, 0]]),  # one category only: chance agreement is total
    ],
)
def test_fleiss_is_none_where_undefined(counts):
    assert fleiss_kappa(counts) is None


def test_fleiss_unanimous_across_categories_is_one():
    assert fleiss_kappa(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_sklearn_ignoring_missing_pairs(seed, weights):
    ratings = random_ratings(seed, raters=2, categories=8, missing=0.2)
    a, b = ratings[:, 0], ratings[:, 1]
    both = ~np.isnan(a) & ~np.isnan(b)
    expected = cohen_kappa_score(a[both], b[both], labels=list(range(8)), weights=weights)
    assert cohen_kappa(a, b, n_categories=8, weights=weights) == pytest.approx(expected, abs=1e-9)


def test_cohen_edge_cases():
    assert cohen_kappa([], [], n_categories=3) is None
    assert cohen_kappa([0, -1], [-1, 1], n_categories=3) is None  # no complete pair
    assert cohen_kappa([1, 1, 1], [1, 1, 1], n_categories=3) is None  # sklearn: NaN
    assert cohen_kappa([0, 1, 2], [0, 1, 2], n_categories=3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n_categories"):
        cohen_kappa([0, 3], [0, 1], n_categories=3)
    with pytest.raises(ValueError, match="non-integer"):
        cohen_kappa([0.5], [0], n_categories=3)


@pytest.mark.parametrize("seed", range(6))
def test_pairwise_and_unanimous_match_plain_loops(seed):
    ratings = random_ratings(seed, raters=2 + seed, missing=0.4)
    agreeing, pairs, unanimous, multi = brute_pairs(ratings)
    assert pairwise_agreement(ratings) == (pytest.approx(agreeing / pairs, abs=1e-12), pairs)
    assert unanimous_share(ratings) == (pytest.approx(unanimous / multi, abs=1e-12), multi)


def test_pairwise_and_unanimous_edge_cases():
    assert pairwise_agreement(np.zeros((0, 2))) == (None, 0)
    assert unanimous_share(np.zeros((0, 2))) == (None, 0)
    single = np.array([[1, np.nan], [np.nan, 2]])
    assert pairwise_agreement(single) == (None, 0)
    assert unanimous_share(single) == (None, 0)
    agree = np.array([[3, 3, 3], [1, 1, -1], [2, -1, -1]])
    assert pairwise_agreement(agree) == (1.0, 4)
    assert unanimous_share(agree) == (1.0, 2)


def test_category_counts_counts_each_rater_once():
    ratings = np.array([[0, 0, 2], [-1, 1, -1], [-1, -1, -1]])
    expected = [[2, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert category_counts(ratings, n_categories=3).tolist() == expected
