"""Reads of the latent-class consensus (review.models_consensus): a sample's posterior, which
raters pulled it which way, and the models' weights learned from their fitted accuracy.

Probabilities are stored as little-endian float32 bytes, one per fit.labels (the taxonomy order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import Q

from annotator.models import Dataset, Sample
from review.models import Adjudication, Annotation, BlindAnswer
from review.models_consensus import ConsensusFit, SamplePosterior
from review.services.latent_ratings import CLASSIFIER, MODEL, sample_ratings

# Accuracies are clipped here before their log-odds: a perfect or hopeless rater would weigh
# infinitely much or below nothing.
ACCURACY_CLIP = (0.01, 0.99)
# The least a model weighs relative to the others (a model at chance still counts a little).
MIN_LOG_ODDS = 0.05


@dataclass(frozen=True)
class PosteriorView:
    fit_id: int
    method: str
    labels: list[str]
    probs: list[float]  # one per label, summing to 1
    label: str  # the most probable label
    p_label: float
    entropy: float  # bits
    expected_change: float  # P(one more person's answer changes `label`)
    n_ratings: int
    finished_at: datetime | None
    started_at: datetime | None  # answers given after it are not in the fit

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The n most probable labels with their probabilities, most probable first."""
        order = sorted(range(len(self.probs)), key=lambda i: (-self.probs[i], i))
        return [(self.labels[i], self.probs[i]) for i in order[:n]]


@dataclass(frozen=True)
class RaterPull:
    key: str  # "model:<name>", "critic:<name>", "person:<user id>"
    kind: str  # model | classifier | critic | person
    name: str  # model name, "critic", or the person's username
    said: str
    accuracy: float | None  # None: the rater is not in the fit (answered after it)
    # P(said | truth = label) normalised over the labels, most pulled-towards first.
    pull: list[tuple[str, float]]


def latest_fit(*, dataset: Dataset) -> ConsensusFit | None:
    """The dataset's latest finished fit."""
    return (
        ConsensusFit.objects.filter(dataset=dataset, status=ConsensusFit.Status.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def decode_probs(raw: bytes | memoryview) -> list[float]:
    return [float(p) for p in np.frombuffer(bytes(raw), dtype="<f4")]


def _view(posterior: SamplePosterior, fit: ConsensusFit) -> PosteriorView:
    return PosteriorView(
        fit_id=fit.pk,
        method=fit.method,
        labels=list(fit.labels),
        probs=decode_probs(posterior.probs),
        label=posterior.label,
        p_label=posterior.p_label,
        entropy=posterior.entropy,
        expected_change=posterior.expected_change,
        n_ratings=posterior.n_ratings,
        finished_at=fit.finished_at,
        started_at=fit.started_at or fit.created_at,
    )


def sample_posterior(*, sample: Sample) -> PosteriorView | None:
    """The latest fit's posterior of one sample; None before any fit covered it. One query,
    without the fit's raters (every rater's confusion matrix: far more than a view needs)."""
    posterior = (
        SamplePosterior.objects.select_related("fit")
        .defer("fit__raters")
        .filter(sample_id=sample.pk)
        .first()
    )
    if posterior is None:
        return None
    return _view(posterior, posterior.fit)


def posteriors_for(*, sample_ids: Iterable[int]) -> dict[int, PosteriorView]:
    """Posteriors of many samples in one query per 2,000 ids (exports); missing ids are absent."""
    ids = list(sample_ids)
    fits: dict[int, ConsensusFit] = {}
    found: dict[int, PosteriorView] = {}
    for start in range(0, len(ids), 2000):
        rows = SamplePosterior.objects.filter(sample_id__in=ids[start : start + 2000])
        for posterior in rows:
            fit = fits.get(posterior.fit_id)
            if fit is None:
                fit = fits[posterior.fit_id] = ConsensusFit.objects.get(pk=posterior.fit_id)
            found[posterior.sample_id] = _view(posterior, fit)
    return found


def rater_pulls(*, sample: Sample, fit: ConsensusFit) -> list[RaterPull]:
    """Each rater of `sample` with what it said and towards which truths that answer pulls:
    P(said | truth = i) from the rater's fitted confusion, normalised over i."""
    labels = list(fit.labels)
    column = {label: j for j, label in enumerate(labels)}
    pulls = []
    for rating in sample_ratings(sample=sample):
        fitted = fit.raters.get(rating.key)
        j = column.get(rating.said)
        accuracy = None
        pull: list[tuple[str, float]] = []
        if fitted and j is not None:
            accuracy = fitted.get("accuracy")
            weights = [row[j] for row in fitted["confusion"]]
            total = sum(weights)
            if total > 0:
                pull = sorted(
                    ((labels[i], w / total) for i, w in enumerate(weights)),
                    key=lambda item: -item[1],
                )
        pulls.append(
            RaterPull(
                key=rating.key,
                kind=rating.kind,
                name=rating.name,
                said=rating.said,
                accuracy=accuracy,
                pull=pull,
            )
        )
    return pulls


def learned_model_weights(*, fit: ConsensusFit) -> dict[str, float]:
    """{model name: weight} for the models (VLMs and classifier) of `fit`: the log-odds of each
    one's fitted accuracy against a wrong label, log(acc (K-1) / (1-acc)) (the optimal weight of a
    weighted vote when errors spread evenly), scaled so the mean is 1."""
    n_labels = max(2, len(fit.labels))
    raw: dict[str, float] = {}
    for info in fit.raters.values():
        if info.get("kind") not in (MODEL, CLASSIFIER) or info.get("accuracy") is None:
            continue
        accuracy = min(max(float(info["accuracy"]), ACCURACY_CLIP[0]), ACCURACY_CLIP[1])
        log_odds = math.log(accuracy * (n_labels - 1) / (1 - accuracy))
        raw[str(info["name"])] = max(log_odds, MIN_LOG_ODDS)
    if not raw:
        return {}
    mean = sum(raw.values()) / len(raw)
    return {name: round(weight / mean, 4) for name, weight in sorted(raw.items())}


def answered_since(
    *, since: datetime, dataset_id: int | None = None, sample_id: int | None = None
) -> bool:
    """Whether anyone answered or decided a sample (of the dataset, or this one sample) after
    `since`: what a fit begun then does not know yet."""
    where = Q(sample_id=sample_id) if sample_id is not None else Q(sample__dataset_id=dataset_id)
    return (
        Annotation.objects.filter(where, created_at__gt=since).exists()
        or BlindAnswer.objects.filter(where, answered_at__gt=since).exists()
        or Adjudication.objects.filter(where, decided_at__gt=since).exists()
    )
