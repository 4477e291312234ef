"""One latent-class fit over a dataset's ratings, without the database (pure; the job and the
benches call it).

Dawid-Skene runs as review.services.latent_em (crowd-kit's algorithm, vectorised; equal to
crowd-kit on the same data); MACE and GLAD run in crowd-kit itself. Each rater's confusion matrix
is then the posterior-weighted count of its answers per truth (Dawid-Skene's own M-step, so for it
exactly the fitted matrix). The fit covers the labels somebody used; the result is widened to the
whole taxonomy (a label nobody said has probability 0 and, as a truth, a confusion row of 0s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from review.services.latent_em import Floats, Prior, confusion_from_probs, dawid_skene
from review.services.latent_ratings import PERSON, Ratings
from review.services.latent_stats import (
    entropy_bits,
    expected_change,
    pooled_confusion,
    rater_accuracies,
    wilson_interval,
)

DAWID_SKENE, MACE, GLAD = "dawid_skene", "mace", "glad"
METHODS = (DAWID_SKENE, MACE, GLAD)
# Dirichlet pseudo-counts on every rater's confusion rows (latent_em.Prior): ten imagined
# ratings per true label, 60% of them right, and one imagined sample per label on the base
# rates. Negligible for a model with thousands of ratings; for a person with five, or a demo
# of twelve images, it keeps the truths a rater never met at "probably right" instead of
# whatever a few answers happened to be, and three raters saying three things stay uncertain.
CONFUSION_PRIOR = Prior(strength=10.0, accuracy=0.6)
# crowd-kit's options per model. MACE runs ~10 pandas group-bys per step, restarts x iterations
# steps: 2 x 50 instead of its 10 x 50 (bench/consensus_speed.py measures it).
CROWDKIT_OPTIONS: dict[str, dict[str, Any]] = {
    DAWID_SKENE: {},
    MACE: {"n_restarts": 2, "n_iter": 50},
    GLAD: {},
}


@dataclass(frozen=True)
class FitOutput:
    """Per rated sample (rows follow ratings.sample_ids) and per rater (ratings.rater_keys)."""

    probs: Floats  # (samples, taxonomy labels)
    label: np.ndarray  # argmax index
    entropy: Floats
    expected_change: Floats
    n_ratings: np.ndarray
    confusion: Floats  # (raters, labels, labels), [rater, truth i, says j]
    accuracy: Floats
    n_per_rater: np.ndarray
    person_confusion: Floats

    def raters_json(self, ratings: Ratings) -> dict[str, dict[str, Any]]:
        """ConsensusFit.raters: kind, name, n, accuracy with its interval, confusion."""
        found = {}
        for r, key in enumerate(ratings.rater_keys):
            n = int(self.n_per_rater[r])
            low, high = wilson_interval(float(self.accuracy[r]), n)
            found[key] = {
                "kind": ratings.rater_kinds[r],
                "name": ratings.rater_names[r],
                "n": n,
                "accuracy": round(float(self.accuracy[r]), 4),
                "accuracy_low": round(low, 4),
                "accuracy_high": round(high, 4),
                "confusion": np.round(self.confusion[r], 4).tolist(),
            }
        return found


def fit_ratings(*, ratings: Ratings, method: str = DAWID_SKENE) -> FitOutput:
    """Fit `method` over `ratings` and summarise it per sample and per rater."""
    n_labels = len(ratings.labels)
    used, compact = np.unique(ratings.label, return_inverse=True)
    n_tasks, n_raters = ratings.sample_ids.size, len(ratings.rater_keys)
    if ratings.n_ratings == 0:
        compact_probs = np.zeros((0, 0))
    else:
        compact_probs = _fit_probs(ratings, compact, used.size, method)
    probs = np.zeros((n_tasks, n_labels))
    probs[:, used] = compact_probs
    probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
    confusion = _widen_confusion(ratings, probs, compact_probs, compact, used, n_labels)
    accuracy, n_per_rater = rater_accuracies(
        probs=probs, task=ratings.task, rater=ratings.rater, label=ratings.label, n_raters=n_raters
    )
    person = _people_confusion(ratings, probs)
    return FitOutput(
        probs=probs,
        label=probs.argmax(axis=1) if n_tasks else np.zeros(0, dtype=np.int64),
        entropy=entropy_bits(probs),
        expected_change=expected_change(probs=probs, person=person),
        n_ratings=np.bincount(ratings.task, minlength=n_tasks),
        confusion=confusion,
        accuracy=accuracy,
        n_per_rater=n_per_rater,
        person_confusion=person,
    )


def _fit_probs(ratings: Ratings, compact: np.ndarray, n_used: int, method: str) -> Floats:
    if method == DAWID_SKENE:
        return dawid_skene(
            task=ratings.task,
            rater=ratings.rater,
            label=compact,
            n_tasks=ratings.sample_ids.size,
            n_raters=len(ratings.rater_keys),
            n_labels=n_used,
            prior=CONFUSION_PRIOR,
        ).probs
    if method in (MACE, GLAD):
        return crowdkit_probs(
            method=method, task=ratings.task, rater=ratings.rater, label=compact, n_labels=n_used
        )
    raise ValueError(f"unknown consensus method {method!r}; one of {', '.join(METHODS)}")


def crowdkit_probs(
    *, method: str, task: np.ndarray, rater: np.ndarray, label: np.ndarray, n_labels: int
) -> Floats:
    """crowd-kit's own posterior (tasks 0..max(task), labels 0..n_labels-1); the reference."""
    import pandas as pd
    from crowdkit.aggregation import GLAD as GladModel
    from crowdkit.aggregation import MACE as MaceModel
    from crowdkit.aggregation import DawidSkene

    data = pd.DataFrame({"task": task, "worker": rater, "label": label})
    model_class: Any = {DAWID_SKENE: DawidSkene, MACE: MaceModel, GLAD: GladModel}[method]
    model = model_class(**CROWDKIT_OPTIONS[method])
    probas = model.fit_predict_proba(data)
    n_tasks = int(task.max()) + 1 if task.size else 0
    table = probas.reindex(index=range(n_tasks), columns=range(n_labels)).fillna(0.0)
    return np.asarray(table.to_numpy(dtype=np.float64))


def _widen_confusion(
    ratings: Ratings,
    probs: Floats,
    compact_probs: Floats,
    compact: np.ndarray,
    used: np.ndarray,
    n_labels: int,
) -> Floats:
    n_raters = len(ratings.rater_keys)
    confusion = np.zeros((n_raters, n_labels, n_labels))
    if ratings.n_ratings == 0:
        return confusion
    fitted = confusion_from_probs(
        probs=compact_probs,
        task=ratings.task,
        rater=ratings.rater,
        label=compact,
        n_raters=n_raters,
        prior=CONFUSION_PRIOR,
    )
    # A truth nobody used keeps a row of zeros (never observed); no rater said such a label.
    confusion[np.ix_(np.arange(n_raters), used, used)] = fitted
    return confusion


def _people_confusion(ratings: Ratings, probs: Floats) -> Floats:
    people = [r for r, kind in enumerate(ratings.rater_kinds) if kind == PERSON]
    mask = np.isin(ratings.rater, people)
    return pooled_confusion(
        probs=probs,
        task=ratings.task[mask],
        label=ratings.label[mask],
        n_labels=len(ratings.labels),
    )
