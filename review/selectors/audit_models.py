"""Audit figures about the models: agreement among them, disputes, and how they (and the critic)
fare against the final human label. Thin wrappers over review.stats on AuditData arrays."""

from __future__ import annotations

from typing import Any, TypedDict, cast

import numpy as np

from review import stats
from review.selectors.audit_data import VERDICTS, AuditData, BoolArray, FloatArray

CRITIC = "critic"
BINS = 10  # reliability diagram bins over confidence 0-10
DROP = VERDICTS.index("drop")


class Rate(TypedDict):
    hits: int
    n: int
    rate: float | None


def rate(hits: int, n: int) -> Rate:
    return Rate(hits=int(hits), n=int(n), rate=(hits / n) if n else None)


def model_figures(data: AuditData) -> stats.ModelSummary:
    """Confusion and Cohen's kappa per pair, Fleiss' kappa and nominal alpha over all models."""
    by_model = {name: data.model_labels[:, j] for j, name in enumerate(data.models)}
    return stats.model_summary(by_model, n_categories=len(data.labels))


def model_groups(data: AuditData) -> dict[str, list[str]]:
    """`compared`: the models that share a labelled sample with another model; `alone`: the
    others, whose agreement cannot be measured (plain EmoVerse records' proposals, say, filed
    under the import's default model name on samples no other model labelled)."""
    labelled = data.model_labels >= 0
    others = labelled.sum(axis=1, keepdims=True) - labelled
    shared = (labelled & (others > 0)).any(axis=0)
    groups: dict[str, list[str]] = {"compared": [], "alone": []}
    for name, with_other in zip(data.models, shared.tolist(), strict=True):
        groups["compared" if with_other else "alone"].append(name)
    return groups


def dispute_figures(data: AuditData) -> dict[str, list[dict[str, Any]]]:
    """Share of units (with 2+ model labels) on which the models disagree, per label and source."""
    by_label = stats.dispute_rates_by_label(data.model_labels, n_categories=len(data.labels))
    by_source = stats.dispute_rates(data.model_labels, data.sample_source)
    return {
        "by_label": [
            {"label": label, **rate(d, n)}
            for label, (d, n) in zip(data.labels, by_label, strict=True)
        ],
        "by_source": sorted(
            (
                {"source": data.sources[cast(int, code)], **rate(d, n)}
                for code, (d, n) in by_source.items()
            ),
            key=lambda row: row["source"],
        ),
    }


def judges(data: AuditData) -> list[str]:
    """The columns compared with the final label: every model, then the critic."""
    return [*data.models, CRITIC]


def judge_labels(data: AuditData) -> np.ndarray:
    return np.column_stack([data.model_labels, data.critic_label]).astype(np.int64)


def final_agreement(data: AuditData) -> list[dict[str, Any]]:
    """Each model's and the critic's agreement with the final human label."""
    result = stats.agreement_with_reference(judge_labels(data), data.final)
    return [
        {"model": name, **rate(int(a), int(n))}
        for name, a, n in zip(judges(data), result.agree, result.n, strict=True)
    ]


def critic_overturned(data: AuditData) -> tuple[BoolArray, BoolArray]:
    """(overturned, reviewed) per sample. Reviewed: the critic judged it and people gave a final
    label. Overturned: the final label differs from the critic's emotion, or the critic said
    drop and people labelled the sample all the same."""
    reviewed = (data.critic_verdict >= 0) & (data.final >= 0)
    differs = data.critic_label != data.final
    return reviewed & ((data.critic_verdict == DROP) | differs), reviewed


def critic_overturns(data: AuditData) -> list[dict[str, Any]]:
    overturned, reviewed = critic_overturned(data)
    counts = stats.rates_by_group(overturned, data.critic_verdict, counted=reviewed)
    return [
        {"verdict": verdict, **rate(*counts.get(i, (0, 0)))} for i, verdict in enumerate(VERDICTS)
    ]


def calibration_inputs(data: AuditData, j: int) -> tuple[BoolArray, FloatArray, BoolArray]:
    """(compared, confidence, correct) of model j per sample: compared where the model gave a
    label and a confidence and the sample has a final label."""
    labels, conf = data.model_labels[:, j], data.model_conf[:, j]
    compared = (labels >= 0) & (data.final >= 0) & ~np.isnan(conf)
    return compared, np.clip(conf.astype(np.float64), 0, 10), labels == data.final


def calibration_bins(confidence_0_10: FloatArray, bins: int = BINS) -> np.ndarray:
    """The reliability bin of each confidence, as review.stats.calibration bins them."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], confidence_0_10 / 10)


def calibration_figures(data: AuditData) -> list[dict[str, Any]]:
    """Per model: reliability diagram and expected calibration error against the final label."""
    figures = []
    for j, name in enumerate(data.models):
        compared, conf, correct = calibration_inputs(data, j)
        summary = stats.calibration_summary(conf[compared], correct[compared], bins=BINS)
        figures.append({"model": name, **summary})
    return figures
