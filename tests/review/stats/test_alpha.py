"""Krippendorff's alpha against the `krippendorff` package and Krippendorff's worked example."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from review.stats import LEVELS, krippendorff_alpha
from tests.review.stats.sample_data import KRIPPENDORFF_2011, NAN, PUBLISHED, random_ratings


@pytest.mark.parametrize("level", LEVELS)
def test_worked_example_reproduces_the_published_values(level):
    # The typed-in data first reproduces the paper with the reference package...
    reference = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
    assert round(reference, 3) == PUBLISHED[level]
    # ...and ours (units x raters, so transposed) agrees with both.
    ours = krippendorff_alpha(KRIPPENDORFF_2011.T, level=level)
    assert ours is not None
    assert ours == pytest.approx(reference, abs=1e-12)
    assert round(ours, 3) == PUBLISHED[level]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", LEVELS)
def test_matches_the_krippendorff_package_on_random_codes(seed, level):
    ratings = random_ratings(seed, categories=6, missing=0.35)
    expected = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement=level)
    assert krippendorff_alpha(ratings, level=level) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("level", ["ordinal", "interval", "ratio"])
def test_matches_the_package_on_uneven_numeric_values(seed, level):
    rng = np.random.default_rng(100 + seed)
    truth = rng.uniform(0, 10, size=(200, 1))
    ratings = np.round(truth + rng.normal(0, 1.5, size=(200, 5)), 1).clip(0, 10)
    ratings[rng.random(ratings.shape) < 0.4] = np.nan
    ratings[:3, :2] = 0.0  # a 0-0 pair: the ratio metric's 0/0 case
    expected = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement=level)
    assert krippendorff_alpha(ratings, level=level) == pytest.approx(expected, abs=1e-9)


def test_minus_one_marks_a_missing_rating_like_nan():
    ratings = random_ratings(7)
    as_ints = np.nan_to_num(ratings, nan=-1).astype(np.int64)
    assert krippendorff_alpha(as_ints, level="nominal") == pytest.approx(
        krippendorff_alpha(ratings, level="nominal"), abs=1e-15
    )


def test_perfect_agreement_with_variation_is_one():
    ratings = np.array([[0, 0], [1, 1], [2, 2], [1, 1]], dtype=float)
    assert krippendorff_alpha(ratings, level="nominal") == pytest.approx(1.0)


@pytest.mark.parametrize(
    "ratings",
    [
        np.zeros((0, 3)),  # empty
        np.zeros((5, 0)),  # no raters
        np.full((4, 3), np.nan),  # nothing rated
        np.array([[1, NAN], [2, NAN], [NAN, 3]]),  # a single rating per unit
        np.array([[2, 2], [2, 2], [2, NAN]]),  # no variation at all (package raises)
        np.array([[2, 2], [2, 2], [3, NAN]]),  # pairable values do not vary (package: NaN)
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_undefined_alpha_is_none_where_the_package_raises_or_gives_nan(ratings, level):
    assert krippendorff_alpha(ratings, level=level) is None
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            reference = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement=level)
    except ValueError:
        return
    assert np.isnan(reference)


def test_unknown_level_and_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(np.zeros((2, 2)), level="cardinal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2-d"):
        krippendorff_alpha(np.zeros(3), level="nominal")
    with pytest.raises(ValueError, match="infinite"):
        krippendorff_alpha(np.array([[1.0, np.inf]]), level="interval")
