"""A finished latent-class fit written as plain rows (review.models_consensus), for the export
and sampling tests: what the fit task stores, without running a fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from annotator.models import Dataset, Sample
from annotator.taxonomy import MIKELS_8_LABELS
from review.models_consensus import ConsensusFit, SamplePosterior

FIT_FINISHED = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def entropy_bits(probs: Sequence[float]) -> float:
    p = np.asarray(probs, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def make_fit(
    dataset: Dataset,
    posteriors: Mapping[Sample, Sequence[float]],
    *,
    labels: Sequence[str] = MIKELS_8_LABELS,
    method: str = ConsensusFit.Method.DAWID_SKENE,
    changes: Mapping[Sample, float] | None = None,
    finished_at: datetime = FIT_FINISHED,
) -> ConsensusFit:
    """A DONE fit of `dataset` with one posterior row per given sample (probabilities in
    `labels` order); expected_change from `changes`, else 1 - p(label)."""
    fit = ConsensusFit.objects.create(
        dataset=dataset,
        method=method,
        status=ConsensusFit.Status.DONE,
        labels=list(labels),
        n_samples=len(posteriors),
        n_ratings=3 * len(posteriors),
        finished_at=finished_at,
    )
    rows = []
    for sample, probs in posteriors.items():
        vector = np.asarray(probs, dtype="<f4")
        best = int(vector.argmax())
        rows.append(
            SamplePosterior(
                sample=sample,
                dataset=dataset,
                fit=fit,
                probs=vector.tobytes(),
                label=labels[best],
                p_label=float(vector[best]),
                entropy=entropy_bits(probs),
                expected_change=(changes or {}).get(sample, 1.0 - float(vector[best])),
                n_ratings=3,
            )
        )
    SamplePosterior.objects.bulk_create(rows)
    return fit
