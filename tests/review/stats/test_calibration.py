"""Reliability diagram and ECE against sklearn's calibration_curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from review.stats import calibration_summary, expected_calibration_error, reliability_diagram


def sample(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    confidence = rng.integers(0, 11, size=n).astype(np.float64)
    if seed % 2:
        confidence = rng.uniform(0, 10, size=n)  # not only integers
    correct = rng.random(n) < confidence / 12 + 0.1
    return confidence, correct


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bins", [5, 10, 11])
def test_bins_match_sklearn_calibration_curve(seed, bins):
    confidence, correct = sample(seed)
    accuracy, mean_prob = calibration_curve(correct, confidence / 10, n_bins=bins)
    diagram = reliability_diagram(confidence, correct, bins=bins)
    filled = [b for b in diagram if b["count"]]
    assert [b["accuracy"] for b in filled] == pytest.approx(accuracy, abs=1e-12)
    assert [b["mean_confidence"] for b in filled] == pytest.approx(mean_prob, abs=1e-12)
    counts = np.array([b["count"] for b in filled])
    expected_ece = float((counts * np.abs(accuracy - mean_prob)).sum() / counts.sum())
    assert expected_calibration_error(confidence, correct, bins=bins) == pytest.approx(
        expected_ece, abs=1e-12
    )


def test_hand_computed_diagram_and_ece():
    confidence = [10, 10, 0, 5, np.nan]
    correct = [True, False, False, True, True]
    diagram = reliability_diagram(confidence, correct, bins=2)
    assert diagram == [
        {"bin_lower": 0.0, "bin_upper": 0.5, "count": 2, "mean_confidence": 0.25, "accuracy": 0.5},
        {"bin_lower": 0.5, "bin_upper": 1.0, "count": 2, "mean_confidence": 1.0, "accuracy": 0.5},
    ]
    # (2/4) * |0.5 - 0.25| + (2/4) * |0.5 - 1.0|
    assert expected_calibration_error(confidence, correct, bins=2) == pytest.approx(0.375)


def test_empty_input_and_bad_confidence():
    summary = calibration_summary([], [], bins=3)
    assert summary["n"] == 0 and summary["ece"] is None
    assert [b["count"] for b in summary["bins"]] == [0, 0, 0]
    assert summary["bins"][0]["accuracy"] is None
    with pytest.raises(ValueError, match="0-10"):
        reliability_diagram([11], [True])
    with pytest.raises(ValueError, match="differ in length"):
        reliability_diagram([1, 2], [True])
