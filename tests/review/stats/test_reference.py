"""Agreement with a reference label and with the (leave-one-out) consensus."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from review.stats import agreement_with_consensus, agreement_with_reference, majority_labels
from tests.review.stats.sample_data import random_ratings


def brute_majority(values: list[float]) -> float | None:
    if not values:
        return None
    ranked = Counter(values).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def brute_consensus(ratings: np.ndarray) -> tuple[list[int], list[int]]:
    agree = [0] * ratings.shape[1]
    n = [0] * ratings.shape[1]
    for row in ratings:
        for r, value in enumerate(row):
            if np.isnan(value):
                continue
            others = [v for k, v in enumerate(row) if k != r and not np.isnan(v)]
            majority = brute_majority(others)
            if majority is not None:
                n[r] += 1
                agree[r] += majority == value
    return agree, n


def test_agreement_with_reference_skips_missing_sides():
    ratings = np.array([[0, 1], [2, np.nan], [1, 1], [0, 0]])
    reference = [0, 2, np.nan, 1]
    result = agreement_with_reference(ratings, reference)
    assert result.agree.tolist() == [2, 0]
    assert result.n.tolist() == [3, 2]
    assert result.rates() == [pytest.approx(2 / 3), 0.0]
    assert agreement_with_reference(np.zeros((0, 2)), []).rates() == [None, None]
    with pytest.raises(ValueError, match="units"):
        agreement_with_reference(ratings, [0, 1])


@pytest.mark.parametrize("seed", range(6))
def test_majority_labels_match_counter(seed):
    ratings = random_ratings(seed, raters=2 + seed % 4, categories=4, missing=0.3)
    got = majority_labels(ratings)
    for row, label in zip(ratings, got, strict=True):
        expected = brute_majority([v for v in row if not np.isnan(v)])
        assert (np.isnan(label) and expected is None) or label == expected


def test_majority_labels_min_ratings():
    ratings = np.array([[3, np.nan], [3, 3], [1, 2]])
    got = majority_labels(ratings, min_ratings=2)
    assert np.isnan(got[0]) and got[1] == 3 and np.isnan(got[2])


@pytest.mark.parametrize("seed", range(8))
def test_leave_one_out_consensus_matches_plain_loops(seed):
    ratings = random_ratings(seed, raters=2 + seed % 5, categories=3, missing=0.25)
    agree, n = brute_consensus(ratings)
    result = agreement_with_consensus(ratings)
    assert result.agree.tolist() == agree
    assert result.n.tolist() == n


def test_consensus_of_two_raters_is_agreement_with_the_other():
    ratings = np.array([[0, 0], [0, 1], [2, np.nan], [1, 1]])
    result = agreement_with_consensus(ratings)
    assert result.agree.tolist() == [2, 2]
    assert result.n.tolist() == [3, 3]
