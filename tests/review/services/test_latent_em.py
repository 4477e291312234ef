"""The consensus fit without the database: equal to crowd-kit, and right on known raters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from bench._raters import answers, biased_confusion
from review.services.latent_em import dawid_skene
from review.services.latent_fit import (
    CROWDKIT_OPTIONS,
    GLAD,
    MACE,
    crowdkit_probs,
    fit_ratings,
)
from review.services.latent_ratings import ratings_from_rows
from review.services.latent_stats import entropy_bits, expected_change, wilson_interval

K = 8
LABELS = [f"l{i}" for i in range(K)]


def _simulated(seed: int, n_tasks: int, people_share: float = 0.3):
    """Three biased models on every task, three better people on a share of them."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(K, size=n_tasks, p=np.linspace(2, 1, K) / np.linspace(2, 1, K).sum())
    raters = [
        biased_confusion(K, 0.62, 0.2, 1),
        biased_confusion(K, 0.7, 0.12, 2),
        biased_confusion(K, 0.55, 0.25, 3),
        biased_confusion(K, 0.85, 0.05, 1),
        biased_confusion(K, 0.8, 0.05, 4),
        biased_confusion(K, 0.9, 0.03, 5),
    ]
    task, rater, label = [], [], []
    for r, confusion in enumerate(raters):
        rated = np.arange(n_tasks) if r < 3 else np.nonzero(rng.random(n_tasks) < people_share)[0]
        task.append(rated)
        rater.append(np.full(rated.size, r))
        label.append(answers(rng, truth[rated], confusion))
    return truth, raters, np.concatenate(task), np.concatenate(rater), np.concatenate(label)


def test_dawid_skene_equals_crowdkit_on_the_same_data():
    _, _, task, rater, label = _simulated(seed=1, n_tasks=3000)
    ours = dawid_skene(task=task, rater=rater, label=label, n_tasks=3000, n_raters=6, n_labels=K)
    data = pd.DataFrame({"task": task, "worker": rater, "label": label})
    reference = DawidSkene(n_iter=100).fit(data)
    assert reference.probas_ is not None and reference.errors_ is not None
    assert reference.labels_ is not None
    probas = reference.probas_.reindex(index=range(3000), columns=range(K)).to_numpy()
    assert ours.iterations == len(reference.loss_history_)
    assert np.abs(ours.probs - probas).max() < 1e-9
    assert (ours.probs.argmax(axis=1) == reference.labels_.sort_index().to_numpy()).all()
    for r in range(6):
        errors = reference.errors_.loc[r].reindex(index=range(K), columns=range(K)).to_numpy()
        assert np.abs(ours.confusion[r] - errors.T).max() < 1e-9  # crowd-kit's is [said, truth]


def test_recovered_confusion_matrices_are_close_to_the_true_ones():
    """Tolerance at 20,000 samples (people on half): every entry of every rater's P(says j |
    truth i) within 0.06 of the generating matrix (a person's entry rests on ~1,000 answers, its
    sampling error ~0.015), the mean entry within 0.01; labels right >= 93% of the time."""
    truth, raters, task, rater, label = _simulated(seed=2, n_tasks=20_000, people_share=0.5)
    fitted = dawid_skene(
        task=task, rater=rater, label=label, n_tasks=20_000, n_raters=6, n_labels=K
    )
    for r, true_confusion in enumerate(raters):
        error = np.abs(fitted.confusion[r] - true_confusion)
        assert error.max() < 0.06 and error.mean() < 0.01, (r, error.max(), error.mean())
    assert (fitted.probs.argmax(axis=1) == truth).mean() >= 0.93


@pytest.mark.parametrize("method", [MACE, GLAD])
def test_mace_and_glad_are_crowdkit_s_own_result_widened_to_the_taxonomy(method, monkeypatch):
    # Both run pandas group-bys per step (seconds on 3 samples): fewer steps, for speed's sake.
    monkeypatch.setitem(CROWDKIT_OPTIONS, MACE, {"n_restarts": 1, "n_iter": 10})
    monkeypatch.setitem(CROWDKIT_OPTIONS, GLAD, {"n_iter": 10})
    rows = [(10, "model:a", "model", "a", "l1"), (10, "model:b", "model", "b", "l1")]
    rows += [(11, "model:a", "model", "a", "l3"), (11, "model:b", "model", "b", "l1")]
    rows += [(12, "model:a", "model", "a", "l3"), (12, "person:1", "person", "ann", "l3")]
    ratings = ratings_from_rows(labels=LABELS, rows=rows)
    output = fit_ratings(ratings=ratings, method=method)
    used = [1, 3]  # labels somebody said: the fit's columns
    compact = np.searchsorted(used, ratings.label)
    reference = crowdkit_probs(
        method=method, task=ratings.task, rater=ratings.rater, label=compact, n_labels=2
    )
    assert np.allclose(output.probs[:, used], reference / reference.sum(axis=1, keepdims=True))
    assert output.probs[:, [0, 2, 4, 5, 6, 7]].sum() == 0
    assert np.allclose(output.probs.sum(axis=1), 1)


def test_unknown_labels_are_skipped_and_counted():
    rows = [(1, "model:a", "model", "a", "L1 "), (1, "model:b", "model", "b", "joy")]
    rows += [(2, "model:b", "model", "b", "joy")]
    ratings = ratings_from_rows(labels=LABELS, rows=rows)
    assert ratings.n_ratings == 1 and ratings.label.tolist() == [1]
    assert ratings.skipped_unknown == 2 and ratings.skipped_labels == {"joy": 2}
    assert ratings.sample_ids.tolist() == [1]


def test_entropy_and_expected_change():
    probs = np.array([[1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.5, 0.45, 0.05, 0.0]])
    assert np.allclose(entropy_bits(probs), [0.0, 2.0, 1.2345], atol=1e-4)
    person = np.full((4, 4), 0.2 / 3)
    np.fill_diagonal(person, 0.8)
    change = expected_change(probs=probs, person=person)
    assert change[0] == 0.0  # certain: no answer moves it
    # Near tie: an answer of label 1 moves the argmax to 1; so does an answer of label 2 (a
    # person's answer is 12 times likelier under its own truth: 0.05 x 0.8 > 0.5 x 0.2 / 3).
    said_1 = 0.5 * 0.2 / 3 + 0.45 * 0.8 + 0.05 * 0.2 / 3
    said_2 = 0.5 * 0.2 / 3 + 0.45 * 0.2 / 3 + 0.05 * 0.8
    assert change[2] == pytest.approx(said_1 + said_2)
    assert change[1] > change[2] > change[0]


def test_wilson_interval_contains_the_share_and_narrows_with_n():
    low_10, high_10 = wilson_interval(0.8, 10)
    low_1000, high_1000 = wilson_interval(0.8, 1000)
    assert low_10 < low_1000 < 0.8 < high_1000 < high_10
    assert wilson_interval(0.5, 0) == (0.0, 1.0)


def test_the_prior_keeps_a_rater_with_few_ratings_from_becoming_falsely_certain():
    """The demo's case: two models that split on most samples and a person who answered one.
    Without a prior the person's matrix is zeros and ones and the posteriors go to 0 bits; with
    it, the truths the person never met keep a 'probably right' row, and their answer pulls
    towards what they said."""
    from review.services.latent_em import Prior, confusion_from_probs

    task = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0])
    rater = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2])
    label = np.array([0, 1, 2, 3, 1, 1, 0, 2, 1])
    args: dict[str, Any] = dict(
        task=task, rater=rater, label=label, n_tasks=4, n_raters=3, n_labels=4
    )
    bare = dawid_skene(**args)
    smoothed = dawid_skene(**args, prior=Prior(strength=2.0, accuracy=0.7))
    assert entropy_bits(bare.probs)[[1, 3]].max() < 0.01  # certain where the models split
    assert entropy_bits(smoothed.probs)[[1, 3]].min() > 0.1  # split, no person: less sure
    assert smoothed.probs[0].argmax() == 1  # the person's "1" decides sample 0
    person = confusion_from_probs(
        probs=smoothed.probs, task=task, rater=rater, label=label, n_raters=3, prior=Prior(2, 0.7)
    )[2]
    assert np.allclose(person.sum(axis=1), 1)
    assert all(person[i].argmax() == i for i in range(4))  # every row: probably right
    column = person[:, 1] / person[:, 1].sum()  # what the person's "1" says of the truth
    assert column.argmax() == 1 and column[1] > 0.5
