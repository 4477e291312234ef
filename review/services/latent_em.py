"""Dawid-Skene as crowd-kit computes it, vectorised over index arrays (pure numpy).

crowd-kit (crowdkit.aggregation.DawidSkene) is the reference: the same majority-vote start, the
same E- and M-steps in log2, the same clipping at 1e-10 and the same stop rule (the evidence lower
bound per rating gains less than `tol`). It runs on pandas joins and group-bys, which takes minutes
at 219K samples x 5 ratings; this does the same sums with np.bincount in seconds
(bench/consensus_speed.py). tests/review/test_latent_em.py holds the two equal on the same data.

Arrays: `task` (which sample), `rater`, `label` (a label index), one entry per rating. The fit
works over the labels somebody used (as crowd-kit does); callers widen to the taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EPS = 1e-10

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int32] | npt.NDArray[np.int64]


@dataclass(frozen=True)
class Fitted:
    probs: Floats  # (tasks, labels): P(truth = i | every rating)
    confusion: Floats  # (raters, labels, labels): P(says j | truth i), [rater, i, j]
    priors: Floats  # (labels,)
    iterations: int


@dataclass(frozen=True)
class _Index:
    """The ratings with (rater, label) pairs flattened for np.bincount."""

    task: Ints
    pair: Ints  # rater * n_labels + label
    n_tasks: int
    n_raters: int
    n_labels: int
    present: npt.NDArray[np.bool_]  # pairs that occur (crowd-kit's group-by rows)


def majority_vote(*, task: Ints, label: Ints, n_tasks: int, n_labels: int) -> Floats:
    """Each task's share of ratings per label (crowd-kit's MajorityVote probabilities)."""
    counts = np.bincount(task * n_labels + label, minlength=n_tasks * n_labels)
    table = counts.reshape(n_tasks, n_labels).astype(np.float64)
    return table / table.sum(axis=1, keepdims=True)


def confusion_from_probs(
    *, probs: Floats, task: Ints, rater: Ints, label: Ints, n_raters: int
) -> Floats:
    """The M-step: posterior-weighted counts of what each rater said per truth, normalised to
    P(says j | truth i); pairs never said stay 0, pairs said are at least 1e-10 before norming."""
    index = _index(task=task, rater=rater, label=label, probs=probs, n_raters=n_raters)
    return _m_step(index, probs)


def dawid_skene(
    *,
    task: Ints,
    rater: Ints,
    label: Ints,
    n_tasks: int,
    n_raters: int,
    n_labels: int,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> Fitted:
    """Fit Dawid-Skene by EM; tasks 0..n_tasks-1 must each have a rating."""
    probs = majority_vote(task=task, label=label, n_tasks=n_tasks, n_labels=n_labels)
    index = _index(task=task, rater=rater, label=label, probs=probs, n_raters=n_raters)
    priors = probs.mean(axis=0)
    confusion = _m_step(index, probs)
    loss = -np.inf
    iterations = 0
    for _ in range(n_iter):
        iterations += 1
        probs = _e_step(index, rater, label, priors, confusion)
        priors = probs.mean(axis=0)
        confusion = _m_step(index, probs)
        new_loss = _elbo(index, rater, label, probs, priors, confusion) / task.size
        if new_loss - loss < tol:
            break
        loss = new_loss
    return Fitted(probs=probs, confusion=confusion, priors=priors, iterations=iterations)


def _index(*, task: Ints, rater: Ints, label: Ints, probs: Floats, n_raters: int) -> _Index:
    n_tasks, n_labels = probs.shape
    pair = rater.astype(np.int64) * n_labels + label
    present = np.bincount(pair, minlength=n_raters * n_labels) > 0
    return _Index(task, pair, n_tasks, n_raters, n_labels, present)


def _m_step(index: _Index, probs: Floats) -> Floats:
    size = index.n_raters * index.n_labels
    sums = np.empty((size, index.n_labels))
    for i in range(index.n_labels):
        sums[:, i] = np.bincount(index.pair, weights=probs[index.task, i], minlength=size)
    sums[index.present] = np.maximum(sums[index.present], EPS)
    by_said = sums.reshape(index.n_raters, index.n_labels, index.n_labels)  # [rater, j, i]
    totals = by_said.sum(axis=1, keepdims=True)  # 0 only for a rater without ratings
    by_said = np.divide(by_said, totals, out=np.zeros_like(by_said), where=totals > 0)
    return np.ascontiguousarray(by_said.transpose(0, 2, 1))  # [rater, i, j]


def _log_likelihoods(
    index: _Index, rater: Ints, label: Ints, log_priors: Floats, log_confusion: Floats
) -> Floats:
    """log P(truth = i) + sum over the task's ratings of log P(said | truth = i)."""
    per_rating = log_confusion[rater, :, label]  # (ratings, i)
    totals = np.empty((index.n_tasks, index.n_labels))
    for i in range(index.n_labels):
        totals[:, i] = np.bincount(index.task, weights=per_rating[:, i], minlength=index.n_tasks)
    return totals + log_priors


def _e_step(index: _Index, rater: Ints, label: Ints, priors: Floats, confusion: Floats) -> Floats:
    with np.errstate(divide="ignore"):
        log_confusion = np.log2(confusion)
    log_priors = np.log2(np.maximum(priors, EPS))
    scores = _log_likelihoods(index, rater, label, log_priors, log_confusion)
    scaled = np.exp2(scores - scores.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def _elbo(
    index: _Index, rater: Ints, label: Ints, probs: Floats, priors: Floats, confusion: Floats
) -> float:
    """crowd-kit's evidence lower bound (its prior term counted once per rating, as there)."""
    with np.errstate(divide="ignore"):
        log_confusion = np.log(confusion)
    per_rating = log_confusion[rater, :, label] + np.log(np.maximum(priors, EPS))
    joint = float((probs[index.task] * per_rating).sum())
    clipped = np.maximum(probs, EPS)
    return joint - float((clipped * np.log(clipped)).sum())
