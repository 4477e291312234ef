"""Confidence calibration: reliability diagram and expected calibration error (ECE).

Confidences are on the proposal scale 0-10 and are mapped to 0-1. Bins follow
sklearn.calibration.calibration_curve(strategy="uniform"): `bins` equal-width bins, each
(lower, upper], the first also holding 0. With integer confidences, bins=11 puts every
confidence value in a bin of its own.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import numpy.typing as npt

from review.stats._coding import FloatArray, IntArray


class ReliabilityBin(TypedDict):
    bin_lower: float
    bin_upper: float
    count: int
    mean_confidence: float | None  # 0-1; None for an empty bin
    accuracy: float | None


class Calibration(TypedDict):
    n: int
    ece: float | None
    bins: list[ReliabilityBin]


def _bin(
    confidence_0_10: npt.ArrayLike, correct: npt.ArrayLike, bins: int
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
    """(edges, count, sum of confidence, sum of correct) per bin; NaN confidences are dropped."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    conf = np.asarray(confidence_0_10, dtype=np.float64).reshape(-1)
    hit = np.asarray(correct, dtype=bool).reshape(-1)
    if conf.shape != hit.shape:
        raise ValueError(f"confidence and correct differ in length: {conf.size} != {hit.size}")
    kept = ~np.isnan(conf)
    if ((conf[kept] < 0) | (conf[kept] > 10)).any():
        raise ValueError("confidence must lie in 0-10")
    prob = conf[kept] / 10
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], prob)
    count = np.bincount(index, minlength=bins).astype(np.int64)
    conf_sum = np.bincount(index, weights=prob, minlength=bins).astype(np.float64)
    hit_sum = np.bincount(index, weights=hit[kept], minlength=bins).astype(np.float64)
    return edges, count, conf_sum, hit_sum


def reliability_diagram(
    confidence_0_10: npt.ArrayLike, correct: npt.ArrayLike, *, bins: int = 10
) -> list[ReliabilityBin]:
    """Every bin, empty ones included, with its mean confidence (0-1) and its accuracy."""
    return calibration_summary(confidence_0_10, correct, bins=bins)["bins"]


def expected_calibration_error(
    confidence_0_10: npt.ArrayLike, correct: npt.ArrayLike, *, bins: int = 10
) -> float | None:
    """sum over bins of (bin share) x |accuracy - mean confidence|; None without any sample."""
    return calibration_summary(confidence_0_10, correct, bins=bins)["ece"]


def calibration_summary(
    confidence_0_10: npt.ArrayLike, correct: npt.ArrayLike, *, bins: int = 10
) -> Calibration:
    """The reliability diagram and the ECE, JSON-ready."""
    edges, count, conf_sum, hit_sum = _bin(confidence_0_10, correct, bins)
    total = int(count.sum())
    diagram = [
        ReliabilityBin(
            bin_lower=float(edges[i]),
            bin_upper=float(edges[i + 1]),
            count=int(count[i]),
            mean_confidence=float(conf_sum[i] / count[i]) if count[i] else None,
            accuracy=float(hit_sum[i] / count[i]) if count[i] else None,
        )
        for i in range(bins)
    ]
    # (n_b / N) x |acc_b - conf_b| = |hits_b - confidence sum_b| / N
    ece = float(np.abs(hit_sum - conf_sum).sum() / total) if total else None
    return Calibration(n=total, ece=ece, bins=diagram)
