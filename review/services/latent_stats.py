"""What a fitted posterior says per sample and per rater (pure numpy).

Per sample: the entropy in bits, and the expected change — the probability that one more person's
answer moves the most probable label, with the people's pooled confusion matrix. It is what
review order "expected_change" sorts by; entropy is the other order (bench/active_review.py).
Per rater: accuracy as the posterior-weighted share of its answers that were right, with a Wilson
interval over its number of answers.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from review.services.latent_em import Floats, Ints

# The person assumed when nobody has answered yet: right 80% of the time, wrong evenly.
DEFAULT_PERSON_ACCURACY = 0.8
WILSON_Z = 1.96  # a 95% interval


def entropy_bits(probs: Floats) -> Floats:
    """Row entropy in bits (0 = certain, log2(K) = uniform)."""
    safe = np.where(probs > 0, probs, 1.0)
    return np.asarray(-(probs * np.log2(safe)).sum(axis=1), dtype=np.float64)


def default_person_confusion(n_labels: int) -> Floats:
    wrong = (1 - DEFAULT_PERSON_ACCURACY) / max(1, n_labels - 1)
    matrix = np.full((n_labels, n_labels), wrong)
    np.fill_diagonal(matrix, DEFAULT_PERSON_ACCURACY)
    return matrix


def pooled_confusion(
    *, probs: Floats, task: Ints, label: Ints, n_labels: int, pseudo_count: float = 2.0
) -> Floats:
    """P(says j | truth i) of all the given ratings pooled (the people's mean confusion), from
    posterior-weighted counts plus `pseudo_count` ratings of the default person per row, so no
    answer is impossible and a truth people never met keeps the default person's row; the
    default person when there are no ratings."""
    if task.size == 0:
        return default_person_confusion(n_labels)
    counts = np.empty((n_labels, n_labels))  # [j, i]
    for i in range(n_labels):
        counts[:, i] = np.bincount(label, weights=probs[task, i], minlength=n_labels)
    counts = counts.T + pseudo_count * default_person_confusion(n_labels)
    return np.asarray(counts / counts.sum(axis=1, keepdims=True), dtype=np.float64)


def expected_change(*, probs: Floats, person: Floats) -> Floats:
    """P(argmax changes after one more answer): sum over answers j of P(j) [argmax of
    probs * person[:, j] differs from argmax of probs]; `person` is [truth i, says j]."""
    current = probs.argmax(axis=1)
    change = np.zeros(probs.shape[0])
    for j in range(person.shape[1]):
        joint = probs * person[:, j]  # P(truth i, says j)
        moved = joint.argmax(axis=1) != current
        change += np.where(moved, joint.sum(axis=1), 0.0)
    return change


def wilson_interval(share: float, n: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a share observed over n trials (n may hold soft counts)."""
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rater_accuracies(
    *, probs: Floats, task: Ints, rater: Ints, label: Ints, n_raters: int
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Per rater: the mean posterior probability of what it said (its expected accuracy), and
    its number of ratings."""
    right = probs[task, label]
    n = np.bincount(rater, minlength=n_raters)
    sums = np.bincount(rater, weights=right, minlength=n_raters)
    return sums / np.maximum(n, 1), n
