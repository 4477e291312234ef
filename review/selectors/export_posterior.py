"""Reads for the soft labels of an export: the dataset's latest finished latent-class fit and,
per batch of samples, that fit's posterior rows (review.models_consensus). One query a batch,
the ids as a subquery and the probabilities left as bytes (the writers decode a batch with one
numpy call): latent.posteriors_for builds a view with Python floats per sample, for pages.

Only the fit read at the export's start counts: SamplePosterior keeps the latest finished fit's
rows, and a fit that finishes while the export runs is not in its snapshot anyway; rows of any
other fit (none, unless a fit is being written) are left out, so a file never mixes two fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from annotator.models import Dataset
from review.models_consensus import SamplePosterior
from review.selectors.latent import latest_fit


@dataclass(frozen=True)
class FitSummary:
    """What an export states about the fit its posteriors come from."""

    fit_id: int
    method: str
    labels: tuple[str, ...]  # the order of every stored probability vector
    finished_at: datetime | None
    n_samples: int
    n_ratings: int


class PosteriorRow(NamedTuple):
    sample_id: int
    probs: bytes | memoryview  # little-endian float32, one per FitSummary.labels
    label: str
    p_label: float
    entropy: float


def latest_done_fit(*, dataset: Dataset) -> FitSummary | None:
    """The dataset's latest finished fit (latent.latest_fit) as what an export states."""
    fit = latest_fit(dataset=dataset)
    if fit is None:
        return None
    return FitSummary(
        fit_id=fit.pk,
        method=fit.method,
        labels=tuple(str(label) for label in fit.labels),
        finished_at=fit.finished_at,
        n_samples=fit.n_samples,
        n_ratings=fit.n_ratings,
    )


def batch_posteriors(*, sample_ids: Iterable[int], fit_id: int) -> dict[int, PosteriorRow]:
    """The fit's posterior of each sample in `sample_ids` (a list or a subquery) that has one."""
    rows = SamplePosterior.objects.filter(sample_id__in=sample_ids, fit_id=fit_id).values_list(
        *PosteriorRow._fields
    )
    return {row[0]: PosteriorRow(*row) for row in rows}
