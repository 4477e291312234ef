"""Emotion classifiers (EmoViT-like) that calibrate the VLMs with a label distribution.

A classifier is anything with `predict(*, sample_id) -> {label: probability} | None`. The default,
"import", runs no model: it reads the predictions that came with the dataset — a Proposal whose
`distribution` is filled (the classifier's row), or a `distribution` kept in a Proposal's raw
record. Other classifiers register a factory under a name chosen by `[pipeline] classifier`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from annotator.pipeline.errors import PipelineConfigError


class Classifier(Protocol):
    name: str

    def predict(self, *, sample_id: int) -> dict[str, float] | None: ...


def normalise_distribution(raw: Any, *, labels: list[str] | None = None) -> dict[str, float] | None:
    """Non-negative finite scores summing to 1, keyed by label; None when nothing usable.

    With `labels`, keys are matched case-insensitively and spelt as the taxonomy spells them;
    unknown keys are dropped.
    """
    if not isinstance(raw, Mapping):
        return None
    spelling = {label.casefold(): label for label in labels} if labels is not None else None
    scores: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value) or value < 0:
            continue
        label = str(key) if spelling is None else spelling.get(str(key).strip().casefold())
        if label is not None:
            scores[label] = scores.get(label, 0.0) + float(value)
    total = sum(scores.values())
    if total <= 0:
        return None
    return {label: score / total for label, score in scores.items()}


def top_label(distribution: Mapping[str, float], *, labels: list[str]) -> str | None:
    """The most probable label; ties go to the one listed first in the taxonomy."""
    order = {label: index for index, label in enumerate(labels)}
    ranked = sorted(distribution.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order))))
    return ranked[0][0] if ranked else None


class ImportedPredictionsClassifier:
    """Reads predictions supplied at import; `model_name` narrows them to one model's rows."""

    name = "import"

    def __init__(self, *, model_name: str | None = None) -> None:
        self.model_name = model_name

    def predict(self, *, sample_id: int) -> dict[str, float] | None:
        from annotator.models import Proposal, Sample

        labels = (
            Sample.objects.filter(pk=sample_id)
            .values_list("dataset__taxonomy__labels", flat=True)
            .first()
        )
        if labels is None:
            return None
        rows = Proposal.objects.filter(sample_id=sample_id).order_by("id")
        if self.model_name:
            rows = rows.filter(model_name=self.model_name)
        for distribution, raw in rows.values_list("distribution", "raw"):
            candidates = [distribution, raw.get("distribution") if isinstance(raw, dict) else None]
            for candidate in candidates:
                found = normalise_distribution(candidate, labels=labels)
                if found:
                    return found
        return None


ClassifierFactory = Callable[[], Classifier]
_registry: dict[str, ClassifierFactory] = {"import": ImportedPredictionsClassifier}


def register_classifier(name: str, factory: ClassifierFactory) -> None:
    _registry[name] = factory


def get_classifier(name: str = "import") -> Classifier:
    """The classifier named by `[pipeline] classifier`."""
    factory = _registry.get(name)
    if factory is None:
        known = ", ".join(sorted(_registry))
        raise PipelineConfigError([f"pipeline.classifier: unknown classifier {name!r} ({known})"])
    return factory()
