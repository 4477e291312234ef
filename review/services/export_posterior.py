"""Soft labels in every export: each sample's posterior over the taxonomy from the dataset's
latest latent-class fit, its entropy, and where the row's hard label comes from.

Row keys added to every export row (docs/formats.md, "Soft labels"):
- "posterior": the probabilities in the taxonomy's order, each the shortest decimal that reads
  back as the stored float32 (0.71, not 0.7099999785423279); None when the dataset has no
  finished fit or the fit did not cover the sample. A label the fit did not know gets 0.
- "posterior_entropy": bits (0 certain, log2 K uniform), None with no posterior.
- "label_source": "person" (an adjudication: person, consensus of blind answers, adjudicator),
  "models" (the models' agreed vote), "consensus" (the latent-class model: only with
  label_from="consensus", for a sample nobody decided), else None.

With label_from="consensus" an undecided sample (disputed or pending; never one the critic
dropped) that has a posterior gets the posterior's most probable label: confidence = its
probability x 10 (the 0-10 scale of the other labels), decided_by "consensus_model", decided_at
the fit's end; triplet and description as for an agreed sample (the caller's `describe`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from annotator.models import Dataset, Sample
from review.selectors.export_posterior import (
    FitSummary,
    PosteriorRow,
    batch_posteriors,
    latest_done_fit,
)

LABEL_FROM_DECIDED = "decided"
LABEL_FROM_CONSENSUS = "consensus"
LABEL_FROM = (LABEL_FROM_DECIDED, LABEL_FROM_CONSENSUS)
EXTRA_POSTERIOR = "posterior"
POSTERIOR_ENTROPY = "posterior_entropy"
LABEL_SOURCE = "label_source"
POSTERIOR_PREFIX = "posterior_"
SOURCE_PERSON = "person"
SOURCE_MODELS = "models"
SOURCE_CONSENSUS = "consensus"
DECIDED_BY_CONSENSUS_MODEL = "consensus_model"
# decided_by -> label_source; every adjudication method is a person's (or people's) decision.
_SOURCES = {
    "person": SOURCE_PERSON,
    "consensus": SOURCE_PERSON,
    "adjudicator": SOURCE_PERSON,
    "models": SOURCE_MODELS,
    DECIDED_BY_CONSENSUS_MODEL: SOURCE_CONSENSUS,
}
UNDECIDED = frozenset({Sample.Status.DISPUTED.value, Sample.Status.PENDING.value})

# (proposals of the sample, emotion) -> the triplet and description keys of the row
Describe = Callable[[Sequence[Any], str], Mapping[str, object]]


@dataclass(frozen=True)
class SoftLabels:
    """What one export needs to add soft labels: fixed once, in the export's snapshot."""

    labels: tuple[str, ...]  # the taxonomy's, the order of every exported posterior
    fit: FitSummary | None
    label_from: str = LABEL_FROM_DECIDED
    # For each taxonomy label its index in fit.labels (-1: unknown to the fit); None when
    # the two orders are the same.
    take: tuple[int, ...] | None = None


def soft_labels_for(*, dataset: Dataset, label_from: str = LABEL_FROM_DECIDED) -> SoftLabels:
    if label_from not in LABEL_FROM:
        raise ValueError(f"unknown label source {label_from!r}: use one of {', '.join(LABEL_FROM)}")
    labels = tuple(str(label) for label in dataset.taxonomy.labels)
    fit = latest_done_fit(dataset=dataset)
    take = None
    if fit is not None and fit.labels != labels:
        where = {label: i for i, label in enumerate(fit.labels)}
        take = tuple(where.get(label, -1) for label in labels)
    return SoftLabels(labels=labels, fit=fit, label_from=label_from, take=take)


def posterior_columns(labels: Sequence[str]) -> list[str]:
    """posterior_<label> per taxonomy label, in the taxonomy's order."""
    return [f"{POSTERIOR_PREFIX}{label}" for label in labels]


def soft_columns(labels: Sequence[str]) -> list[str]:
    """The CSV's soft-label columns: label_source, posterior_entropy, posterior_<label>..."""
    return [LABEL_SOURCE, POSTERIOR_ENTROPY, *posterior_columns(labels)]


def posterior_mapping(row: Mapping[str, object], labels: Sequence[str]) -> dict[str, float] | None:
    """The row's posterior as {label: probability} in the taxonomy's order (JSON formats)."""
    vector = row.get(EXTRA_POSTERIOR)
    return dict(zip(labels, vector, strict=True)) if isinstance(vector, list) else None


def add_soft_labels(
    rows: list[dict[str, object]],
    *,
    soft: SoftLabels,
    sample_ids: Iterable[int],
    describe: Describe,
) -> None:
    """Set the posterior, its entropy and label_source on each row of one batch (one query,
    none without a fit); with label_from="consensus", label the undecided rows first."""
    found = batch_posteriors(sample_ids=sample_ids, fit_id=soft.fit.fit_id) if soft.fit else {}
    posteriors = [found.get(cast(int, row["sample_id"])) for row in rows]
    vectors = _vectors(posteriors, soft=soft)
    for row, posterior, vector in zip(rows, posteriors, vectors, strict=True):
        row[EXTRA_POSTERIOR] = vector
        row[POSTERIOR_ENTROPY] = posterior.entropy if posterior is not None else None
        if posterior is not None and _takes_consensus(row, soft=soft):
            row.update(_consensus_label(row, posterior=posterior, soft=soft, describe=describe))
        row[LABEL_SOURCE] = _SOURCES.get(str(row.get("decided_by")))


def _takes_consensus(row: Mapping[str, object], *, soft: SoftLabels) -> bool:
    return (
        soft.label_from == LABEL_FROM_CONSENSUS
        and row.get("emotion") is None
        and row.get("status") in UNDECIDED
    )


def _consensus_label(
    row: Mapping[str, object], *, posterior: PosteriorRow, soft: SoftLabels, describe: Describe
) -> dict[str, object]:
    assert soft.fit is not None  # a posterior comes from a fit
    proposals = cast(Sequence[Any], row.get("proposals") or [])
    return {
        "emotion": posterior.label,
        "confidence": round(posterior.p_label * 10, 6),
        **describe(proposals, posterior.label),
        "decided_by": DECIDED_BY_CONSENSUS_MODEL,
        "annotator": None,
        "decided_at": soft.fit.finished_at,
    }


def _vectors(
    posteriors: Sequence[PosteriorRow | None], *, soft: SoftLabels
) -> list[list[float] | None]:
    """Each posterior in the taxonomy's order as shortest-decimal floats (one numpy pass for
    the batch); None where a row has none."""
    import numpy as np

    present = [p for p in posteriors if p is not None]
    if not present or soft.fit is None:
        return [None] * len(posteriors)
    width = len(soft.fit.labels)
    matrix = np.frombuffer(b"".join(bytes(p.probs) for p in present), dtype="<f4")
    matrix = matrix.reshape(len(present), width)
    if soft.take is not None:
        padded = np.concatenate([matrix, np.zeros((len(present), 1), dtype="<f4")], axis=1)
        matrix = padded[:, list(soft.take)]  # -1 picks the zero column
    # float32 -> its shortest decimal text -> the double of that text: prints as 0.71
    decimals = matrix.astype(str).astype(np.float64).tolist()
    rows = iter(decimals)
    return [next(rows) if p is not None else None for p in posteriors]
