"""ConsensusFit and SamplePosterior rows written directly, as a finished fit leaves them (the fit
itself is tested on its own)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.utils import timezone

from review.models_consensus import ConsensusFit, SamplePosterior

MIKELS = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"]


def confusion(diagonal: float, k: int = len(MIKELS)) -> list[list[float]]:
    off = (1 - diagonal) / (k - 1)
    return [[diagonal if i == j else off for j in range(k)] for i in range(k)]


def rater(kind: str, name: str, accuracy: float, n: int = 10) -> dict[str, Any]:
    return {
        "kind": kind, "name": name, "n": n, "accuracy": accuracy,
        "accuracy_low": accuracy - 0.1, "accuracy_high": min(accuracy + 0.1, 1.0),
        "confusion": confusion(accuracy),
    }  # fmt: skip


def finished_fit(dataset: Any, raters: dict[str, Any], **fields: Any) -> ConsensusFit:
    now = timezone.now()
    values = {
        "method": ConsensusFit.Method.DAWID_SKENE, "status": ConsensusFit.Status.DONE,
        "labels": list(dataset.taxonomy.labels), "raters": raters, "n_samples": 1,
        "n_ratings": 3, "seconds": 0.25, "started_at": now, "finished_at": now, **fields,
    }  # fmt: skip
    return ConsensusFit.objects.create(dataset=dataset, **values)


def posterior(sample: Any, fit: ConsensusFit, probs: dict[str, float]) -> SamplePosterior:
    labels = list(fit.labels)
    vector = np.array([probs.get(label, 0.0) for label in labels], dtype="<f4")
    best = int(vector.argmax())
    entropy = -sum(float(p) * math.log2(p) for p in vector if p > 0)
    return SamplePosterior.objects.create(
        sample=sample, dataset=sample.dataset, fit=fit, probs=vector.tobytes(),
        label=labels[best], p_label=float(vector[best]), entropy=entropy,
        expected_change=0.2, n_ratings=3,
    )  # fmt: skip
