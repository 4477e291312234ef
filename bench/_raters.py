"""Simulated raters with known confusion matrices (bench/active_review.py,
bench/consensus_speed.py and the consensus tests)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def biased_confusion(n_labels: int, accuracy: float, bias: float, shift: int) -> Floats:
    """P(says j | truth i): right with `accuracy`; `bias` goes to the label `shift` places on
    (a model that reads awe as contentment), the rest spread evenly over the other labels."""
    matrix = np.zeros((n_labels, n_labels))
    for i in range(n_labels):
        matrix[i, :] = (1 - accuracy - bias) / (n_labels - 2)
        matrix[i, i] = accuracy
        matrix[i, (i + shift) % n_labels] = bias
    return matrix


def answers(rng: np.random.Generator, truth: Ints, confusion: Floats) -> Ints:
    """One answer per truth, drawn from the confusion row of that truth."""
    cumulative = confusion.cumsum(axis=1)[truth]
    draws = rng.random(truth.size)[:, None]
    return np.minimum((draws > cumulative).sum(axis=1), confusion.shape[1] - 1)


def skewed_truth(rng: np.random.Generator, n: int, n_labels: int) -> Ints:
    """True labels, the first label twice as common as the last (datasets are not balanced)."""
    weights = np.linspace(2, 1, n_labels)
    return rng.choice(n_labels, size=n, p=weights / weights.sum())


# As the audit measured the VLMs and the classifier: right 55-70%, each with its own favourite
# wrong answer for every truth. People: right 75-90%, errors spread evenly.
MODEL_RATERS = [(0.62, 0.2, 1), (0.7, 0.12, 2), (0.55, 0.25, 3)]


def model_confusions(n_labels: int) -> list[Floats]:
    return [biased_confusion(n_labels, a, b, s) for a, b, s in MODEL_RATERS]


def person_confusions(rng: np.random.Generator, n_people: int, n_labels: int) -> list[Floats]:
    found = []
    for _ in range(n_people):
        accuracy = float(rng.uniform(0.75, 0.9))
        matrix = np.full((n_labels, n_labels), (1 - accuracy) / (n_labels - 1))
        np.fill_diagonal(matrix, accuracy)
        found.append(matrix)
    return found
