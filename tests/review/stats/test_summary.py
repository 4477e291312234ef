"""The dashboard's JSON objects for people and models."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from review.stats import category_counts, human_summary, model_summary
from review.stats.summary import fleiss_columns
from tests.review.stats.sample_data import KRIPPENDORFF_2011, PUBLISHED, random_ratings

HUMAN_KEYS = {
    "items",
    "pairs",
    "pairwise_agreement",
    "unanimous_share",
    "krippendorff_alpha",
    "fleiss_kappa",
}


def test_human_summary_of_the_worked_example():
    ratings = KRIPPENDORFF_2011.T
    summary = human_summary(ratings, numeric=True)
    assert set(summary) == HUMAN_KEYS
    assert summary["items"] == 12
    # Ratings per unit: 3,4,4,4,4,4,4,4,4,3,2,1 -> 3+6*8+3+1+0 pairs.
    assert summary["pairs"] == 3 + 6 * 8 + 3 + 1
    # Units 1, 3, 4, 5, 7, 9, 10, 11 of the 11 with 2+ ratings are unanimous.
    assert summary["unanimous_share"] == pytest.approx(8 / 11)
    assert dict(summary["krippendorff_alpha"]) == pytest.approx(PUBLISHED, abs=5e-4)
    assert summary["fleiss_kappa"] is None  # units carry different numbers of ratings
    json.dumps(summary)  # plain Python numbers only


def test_categorical_ratings_get_only_the_nominal_alpha():
    summary = human_summary(KRIPPENDORFF_2011.T, numeric=False)
    alpha = summary["krippendorff_alpha"]
    assert alpha["nominal"] == pytest.approx(0.743, abs=5e-4)
    assert alpha["ordinal"] is alpha["interval"] is alpha["ratio"] is None


def test_fleiss_when_every_rated_unit_has_two_ratings():
    ratings = random_ratings(3, units=500, raters=6, categories=8, missing=0.0)
    # Two ratings per unit, by varying annotators; a few units nobody rated yet.
    keep = np.zeros_like(ratings, dtype=bool)
    rng = np.random.default_rng(3)
    for unit in range(len(ratings)):
        keep[unit, rng.choice(6, size=2, replace=False)] = True
    ratings[~keep] = np.nan
    ratings[:20] = np.nan
    summary = human_summary(ratings, numeric=False)
    assert summary["items"] == 480
    assert summary["pairs"] == 480
    rated = ratings[20:]
    expected = sm_fleiss_kappa(category_counts(np.nan_to_num(rated, nan=-1), n_categories=8))
    assert summary["fleiss_kappa"] == pytest.approx(expected, abs=1e-9)
    nominal = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement="nominal")
    assert summary["krippendorff_alpha"]["nominal"] == pytest.approx(nominal, abs=1e-9)


def test_empty_human_summary_is_all_none():
    summary = human_summary(np.zeros((0, 2)), numeric=True)
    assert summary == {
        "items": 0,
        "pairs": 0,
        "pairwise_agreement": None,
        "unanimous_share": None,
        "krippendorff_alpha": {"nominal": None, "ordinal": None, "interval": None, "ratio": None},
        "fleiss_kappa": None,
    }


def test_model_summary_pairs_and_overall_figures():
    ratings = random_ratings(11, units=400, raters=3, categories=8, missing=0.1)
    codes = np.nan_to_num(ratings, nan=-1).astype(np.int64)
    names = ["qwen", "gpt", "emovit"]
    summary = model_summary(dict(zip(names, codes.T, strict=True)), n_categories=8)
    assert summary["models"] == names
    assert [(p["a"], p["b"]) for p in summary["pairs"]] == [
        ("qwen", "gpt"),
        ("qwen", "emovit"),
        ("gpt", "emovit"),
    ]
    first = summary["pairs"][0]
    both = (codes[:, 0] >= 0) & (codes[:, 1] >= 0)
    assert first["n"] == int(both.sum())
    assert first["cohen_kappa"] == pytest.approx(
        cohen_kappa_score(codes[both, 0], codes[both, 1], labels=list(range(8))), abs=1e-9
    )
    assert np.array(first["confusion"]).shape == (8, 8)
    assert first["agreement"] == pytest.approx((codes[both, 0] == codes[both, 1]).mean())
    complete = (codes >= 0).all(axis=1)
    assert summary["fleiss_items"] == int(complete.sum())
    expected = sm_fleiss_kappa(category_counts(codes[complete], n_categories=8))
    assert summary["fleiss_kappa"] == pytest.approx(expected, abs=1e-9)
    nominal = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement="nominal")
    assert summary["krippendorff_alpha"]["nominal"] == pytest.approx(nominal, abs=1e-9)
    assert summary["krippendorff_alpha"]["interval"] is None
    json.dumps(summary)


def test_model_summary_edge_cases():
    empty = model_summary({}, n_categories=8)
    assert empty["pairs"] == [] and empty["items"] == 0 and empty["fleiss_kappa"] is None
    agreeing = model_summary({"a": [1, 2, 3], "b": [1, 2, 3]}, n_categories=8)
    assert agreeing["pairs"][0]["cohen_kappa"] == pytest.approx(1.0)
    assert agreeing["unanimous_share"] == 1.0
    with pytest.raises(ValueError, match="same units"):
        model_summary({"a": [1, 2], "b": [1]}, n_categories=8)


def test_fleiss_leaves_out_a_model_that_shares_no_unit_with_the_others():
    """The demo's case: three models on the same units and `emoverse` alone on others. Kappa
    over every model had no complete unit (None); it is the three models' kappa."""
    three = np.array([[1, 1, 2], [3, 3, 3], [0, 1, 0], [4, 4, 4], [-1, -1, -1], [-1, -1, -1]])
    alone = np.array([-1, -1, -1, -1, 5, 6])
    names = ["emovit", "gemini", "gpt-4o"]
    by_model = {**dict(zip(names, three.T, strict=True)), "emoverse": alone}
    summary = model_summary(by_model, n_categories=8)
    assert summary["fleiss_models"] == names
    assert summary["fleiss_items"] == 4
    expected = sm_fleiss_kappa(category_counts(three[:4], n_categories=8))
    assert summary["fleiss_kappa"] == pytest.approx(expected, abs=1e-9)
    assert summary["fleiss_kappa"] is not None


def test_fleiss_takes_the_most_models_with_a_unit_in_common_then_the_most_units():
    # a, b, c share units 0-1; a, b, d share units 2-4; no unit has all four: a, b, d (3 units).
    labels = {
        "a": [1, 2, 1, 2, 3, 1],
        "b": [1, 2, 1, 3, 3, -1],
        "c": [2, 2, -1, -1, -1, -1],
        "d": [-1, -1, 1, 2, 3, 1],
    }
    summary = model_summary(labels, n_categories=8)
    assert summary["fleiss_models"] == ["a", "b", "d"]
    assert summary["fleiss_items"] == 3
    rows = np.array([labels[name][2:5] for name in ("a", "b", "d")]).T
    expected = sm_fleiss_kappa(category_counts(rows, n_categories=8))
    assert summary["fleiss_kappa"] == pytest.approx(expected, abs=1e-9)


def test_no_kappa_when_no_unit_has_two_models():
    summary = model_summary({"a": [1, -1], "b": [-1, 2]}, n_categories=8)
    assert summary["fleiss_models"] == [] and summary["fleiss_items"] == 0
    assert summary["fleiss_kappa"] is None


def test_fleiss_columns_agree_beyond_the_bit_mask_width():
    """Past 62 models the row patterns come from np.unique over rows: the same choice."""
    labelled = np.zeros((5, 70), dtype=bool)
    labelled[:3, :65] = True  # 65 models on units 0-2
    labelled[3:, 60:] = True  # 10 others on units 3-4
    chosen = fleiss_columns(labelled)
    assert chosen[:65].all() and not chosen[65:].any()
    assert fleiss_columns(labelled[:, :40]).tolist() == [True] * 40
