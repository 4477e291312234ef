"""Confusion matrices and dispute rates."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from review.stats import (
    confusion_matrix,
    dispute_rates,
    dispute_rates_by_label,
    disputed_units,
    rates_by_group,
)
from tests.review.stats.sample_data import random_ratings


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matches_sklearn_without_missing_pairs(seed):
    ratings = random_ratings(seed, raters=2, categories=8, missing=0.25)
    a, b = ratings[:, 0], ratings[:, 1]
    both = ~np.isnan(a) & ~np.isnan(b)
    expected = sk_confusion_matrix(a[both], b[both], labels=list(range(8)))
    assert np.array_equal(confusion_matrix(a, b, n_categories=8), expected)


def test_confusion_rows_are_a_and_columns_are_b():
    assert confusion_matrix([0, 0, 1], [1, 1, 1], n_categories=2).tolist() == [[0, 2], [0, 1]]
    assert confusion_matrix([], [], n_categories=2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], n_categories=2)


def brute_disputes(labels: np.ndarray) -> tuple[list[bool], list[bool]]:
    disputed, comparable = [], []
    for row in labels:
        present = {v for v in row if v >= 0}
        count = sum(1 for v in row if v >= 0)
        comparable.append(count >= 2)
        disputed.append(count >= 2 and len(present) > 1)
    return disputed, comparable


@pytest.mark.parametrize("seed", range(4))
def test_dispute_rates_per_group_match_plain_loops(seed):
    labels = np.nan_to_num(random_ratings(seed, raters=3, categories=8), nan=-1).astype(int)
    groups = np.random.default_rng(seed).choice(["emoset", "fi", "artphoto"], size=len(labels))
    disputed, comparable = brute_disputes(labels)
    got_disputed, got_comparable = disputed_units(labels)
    assert got_disputed.tolist() == disputed
    assert got_comparable.tolist() == comparable
    rates = dispute_rates(labels, groups)
    assert set(rates) == {"emoset", "fi", "artphoto"}
    for name, (d, t) in rates.items():
        mine = groups == name
        assert t == sum(c for c, m in zip(comparable, mine, strict=True) if m)
        assert d == sum(x for x, m in zip(disputed, mine, strict=True) if m)


def test_dispute_rates_by_label_count_units_where_any_model_proposed_it():
    labels = np.array([[0, 0, 0], [0, 1, -1], [2, -1, -1], [1, 1, 2]])
    # unit 2 has one label only: not comparable.
    assert dispute_rates_by_label(labels, n_categories=3) == [(1, 2), (2, 2), (1, 1)]


def test_rates_by_group_counts_hits_among_counted_units():
    verdicts = np.array(["preserve", "revise", "drop", "preserve", "preserve"])
    overturned = np.array([True, False, True, False, True])
    counted = np.array([True, True, True, True, False])
    assert rates_by_group(overturned, verdicts, counted=counted) == {
        "drop": (1, 1),
        "preserve": (1, 2),
        "revise": (0, 1),
    }
    assert rates_by_group([], np.array([], dtype=str)) == {}
