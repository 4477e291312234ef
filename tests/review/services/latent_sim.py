"""Simulated raters with known confusion matrices, for the consensus tests and benches."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def biased_confusion(n_labels: int, accuracy: float, bias: float, shift: int) -> Floats:
    """Right with `accuracy`; of the rest, `bias` goes to the label `shift` places on, the
    remainder spread evenly over the other wrong labels."""
    matrix = np.zeros((n_labels, n_labels))
    for i in range(n_labels):
        favoured = (i + shift) % n_labels
        matrix[i, :] = (1 - accuracy - bias) / (n_labels - 2)
        matrix[i, i] = accuracy
        matrix[i, favoured] = bias
    return matrix


def answers(rng: np.random.Generator, truth: npt.NDArray[np.int64], confusion: Floats):
    """One answer per truth, drawn from the confusion row of that truth."""
    cumulative = confusion.cumsum(axis=1)[truth]
    draws = rng.random(truth.size)[:, None]
    return np.minimum((draws > cumulative).sum(axis=1), confusion.shape[1] - 1)
