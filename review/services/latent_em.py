"""Dawid-Skene as crowd-kit computes it, vectorised over index arrays (numpy and scipy.sparse).

crowd-kit (crowdkit.aggregation.DawidSkene) is the reference: the same majority-vote start, the
same E- and M-steps in log2, the same clipping at 1e-10 and the same stop rule (the evidence lower
bound per rating gains less than `tol`). It runs on pandas joins and group-bys; this does the same
sums as sparse matrix products, several times faster (bench/consensus_speed.py).
tests/review/services/test_latent_em.py holds the two equal on the same data.

With `prior_strength` > 0 the M-step adds Dirichlet pseudo-counts to every rater's confusion
matrix (MAP instead of maximum likelihood): `prior_strength` imagined ratings per true label,
`prior_accuracy` of them right and the rest spread evenly. crowd-kit has no prior (strength 0,
the default here, is its algorithm); the app uses one because a rater with a handful of ratings
otherwise gets a confusion matrix of zeros and ones ("always says excitement, whatever the
truth") and the posteriors it feeds become falsely certain.

Arrays: `task` (which sample), `rater`, `label` (a label index), one entry per rating. The fit
works over the labels somebody used (as crowd-kit does); callers widen to the taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

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
    """The ratings as a sparse (task x pair) count matrix, pair = rater * n_labels + label:
    every step's sum over ratings is one sparse product with it (C loops, no gathers)."""

    incidence: sparse.csr_matrix
    n_raters: int
    n_labels: int
    present: npt.NDArray[np.bool_]  # pairs that occur (crowd-kit's group-by rows)


def majority_vote(*, task: Ints, label: Ints, n_tasks: int, n_labels: int) -> Floats:
    """Each task's share of ratings per label (crowd-kit's MajorityVote probabilities)."""
    counts = np.bincount(task * n_labels + label, minlength=n_tasks * n_labels)
    table = counts.reshape(n_tasks, n_labels).astype(np.float64)
    return table / table.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prior:
    """Dirichlet pseudo-counts per confusion row: `strength` ratings, `accuracy` of them right."""

    strength: float = 0.0
    accuracy: float = 0.7
    class_pseudo: float = 1.0  # per label, on the base rates (used only with a strength)

    def base_rates(self, probs: Floats) -> Floats:
        """How common each label is: the posteriors' mean, plus `class_pseudo` imagined samples
        per label with a prior (a label no fit has chosen yet keeps a chance)."""
        if self.strength <= 0:
            return np.asarray(probs.mean(axis=0))
        counts = probs.sum(axis=0) + self.class_pseudo
        return np.asarray(counts / counts.sum())

    def table(self, n_raters: int, n_labels: int) -> Floats | None:
        """[pair, i] pseudo-counts (pair = rater * n_labels + said), None without a prior."""
        if self.strength <= 0:
            return None
        wrong = (1 - self.accuracy) / max(1, n_labels - 1) if n_labels > 1 else 0.0
        row = np.full((n_labels, n_labels), wrong * self.strength)  # [said j, truth i]
        np.fill_diagonal(row, (self.accuracy if n_labels > 1 else 1.0) * self.strength)
        return np.tile(row, (n_raters, 1))


NO_PRIOR = Prior()


def confusion_from_probs(
    *, probs: Floats, task: Ints, rater: Ints, label: Ints, n_raters: int, prior: Prior = NO_PRIOR
) -> Floats:
    """The M-step: posterior-weighted counts of what each rater said per truth (plus the
    prior's pseudo-counts), normalised to P(says j | truth i); without a prior pairs never said
    stay 0 and pairs said are at least 1e-10 before norming."""
    index = _index(task=task, rater=rater, label=label, probs=probs, n_raters=n_raters)
    return _m_step(index, probs, prior.table(n_raters, probs.shape[1]))[0]


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
    prior: Prior = NO_PRIOR,
) -> Fitted:
    """Fit Dawid-Skene by EM (MAP with `prior`); tasks 0..n_tasks-1 must each have a rating."""
    probs = majority_vote(task=task, label=label, n_tasks=n_tasks, n_labels=n_labels)
    index = _index(task=task, rater=rater, label=label, probs=probs, n_raters=n_raters)
    pseudo = prior.table(n_raters, n_labels)
    priors = prior.base_rates(probs)
    confusion, _ = _m_step(index, probs, pseudo)
    loss = -np.inf
    iterations = 0
    for _ in range(n_iter):
        iterations += 1
        probs = _e_step(index, priors, confusion)
        priors = prior.base_rates(probs)
        confusion, sums = _m_step(index, probs, pseudo)
        new_loss = _elbo(index, probs, priors, confusion, sums, pseudo) / task.size
        if new_loss - loss < tol:
            break
        loss = new_loss
    return Fitted(probs=probs, confusion=confusion, priors=priors, iterations=iterations)


def _index(*, task: Ints, rater: Ints, label: Ints, probs: Floats, n_raters: int) -> _Index:
    n_tasks, n_labels = probs.shape
    pair = rater.astype(np.int64) * n_labels + label
    size = n_raters * n_labels
    incidence = sparse.csr_matrix(
        (np.ones(pair.size), (task, pair)), shape=(n_tasks, size), dtype=np.float64
    )
    present = np.bincount(pair, minlength=size) > 0
    return _Index(incidence, n_raters, n_labels, present)


def _m_step(index: _Index, probs: Floats, pseudo: Floats | None) -> tuple[Floats, Floats]:
    """P(says j | truth i) per rater, [rater, i, j], and the raw sums [pair, i] behind it."""
    sums = np.asarray(index.incidence.T @ probs)  # [pair, i]: sum of P(truth i) over ratings
    clipped = sums.copy()
    clipped[index.present] = np.maximum(clipped[index.present], EPS)
    if pseudo is not None:
        clipped += pseudo
    by_said = clipped.reshape(index.n_raters, index.n_labels, index.n_labels)  # [rater, j, i]
    totals = by_said.sum(axis=1, keepdims=True)  # 0 only for a rater without ratings
    by_said = np.divide(by_said, totals, out=np.zeros_like(by_said), where=totals > 0)
    return np.ascontiguousarray(by_said.transpose(0, 2, 1)), sums


def _by_pair(index: _Index, values: Floats, *, keep_all: bool = False) -> Floats:
    """[rater, i, j] -> [pair, i]; pairs never said get 0 (never used: no rating has them)
    unless `keep_all`."""
    table = values.transpose(0, 2, 1).reshape(-1, index.n_labels).copy()
    if not keep_all:
        table[~index.present] = 0.0
    return table


def _e_step(index: _Index, priors: Floats, confusion: Floats) -> Floats:
    with np.errstate(divide="ignore"):
        log_confusion = _by_pair(index, np.log2(confusion))
    scores = np.asarray(index.incidence @ log_confusion) + np.log2(np.maximum(priors, EPS))
    scaled = np.exp2(scores - scores.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def _elbo(
    index: _Index,
    probs: Floats,
    priors: Floats,
    confusion: Floats,
    sums: Floats,
    pseudo: Floats | None,
) -> float:
    """crowd-kit's evidence lower bound (its prior term counted once per rating, as there):
    sum over ratings and truths of P(truth) (log P(said | truth) + log prior) is, grouped by
    pair, the M-step's sums times the pair's logs; with a Dirichlet prior, plus its log
    density (up to a constant), the objective MAP-EM climbs."""
    with np.errstate(divide="ignore"):
        log_confusion = _by_pair(index, np.log(confusion))
    per_pair = log_confusion + np.log(np.maximum(priors, EPS))
    joint = float((sums[index.present] * per_pair[index.present]).sum())
    clipped = np.maximum(probs, EPS)
    bound = joint - float((clipped * np.log(clipped)).sum())
    if pseudo is not None:
        log_all = _by_pair(index, np.log(np.maximum(confusion, EPS)), keep_all=True)
        bound += float((pseudo * log_all).sum())
    return bound
