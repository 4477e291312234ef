"""Input handling shared by every statistic: missing values, codes, factorizing."""

from __future__ import annotations

import numpy as np
import pytest

from review.stats import human_summary, pairwise_agreement, rates_by_group
from review.stats._coding import as_codes, as_ratings, factorize


def test_nan_and_negative_values_are_missing_and_the_input_is_left_alone():
    raw = np.array([[1.0, -1.0], [np.nan, 2.0]])
    ratings = as_ratings(raw)
    assert np.isnan(ratings).tolist() == [[False, True], [True, False]]
    assert raw[0, 1] == -1.0  # not modified in place
    assert pairwise_agreement(np.array([[3, -1, 3], [-1, -1, 2]])) == (1.0, 1)


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, 0, 7, 3, 0]),  # small ints: lookup table
        np.array([3.0, 0.0, 7.0, 3.0]),  # integral floats: lookup table
        np.array([2.5, 0.1, 2.5, 9.75]),  # fractions: sorted
        np.array([-4, 2, -4]),  # negative ints: sorted
        np.array([1 << 40, 5, 1 << 40]),  # huge ints: sorted
        np.array(["fi", "emoset", "fi", "artphoto"]),  # strings: sorted
    ],
)
def test_factorize_agrees_with_np_unique(values):
    keys, codes = factorize(values)
    expected_keys, expected_codes = np.unique(values, return_inverse=True)
    assert keys.tolist() == expected_keys.tolist()
    assert codes.tolist() == expected_codes.tolist()
    assert keys[codes].tolist() == values.tolist()


def test_as_codes_accepts_nan_and_minus_one_and_rejects_the_rest():
    assert as_codes([0, np.nan, -1, 2.0], n_categories=3, name="x").tolist() == [0, -1, -1, 2]
    with pytest.raises(ValueError, match="x holds code 3"):
        as_codes([3], n_categories=3, name="x")
    with pytest.raises(ValueError, match="n_categories"):
        as_codes([0], n_categories=0, name="x")


def test_integer_group_ids_and_strings_give_the_same_rates():
    hits = np.array([True, False, True, True])
    by_id = rates_by_group(hits, np.array([7, 3, 7, 3]))
    by_name = rates_by_group(hits, np.array(["b", "a", "b", "a"]))
    assert by_id == {3: (1, 2), 7: (2, 2)}
    assert by_name == {"a": (1, 2), "b": (2, 2)}


def test_fractional_and_large_values_work_as_ratings():
    ratings = np.array([[0.5, 0.5], [1e9, 1e9], [0.25, np.nan]])
    summary = human_summary(ratings, numeric=True)
    assert summary["unanimous_share"] == 1.0
    assert summary["krippendorff_alpha"]["interval"] == pytest.approx(1.0)
