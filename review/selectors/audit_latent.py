"""The audit's reads of the latent-class consensus (review.models_consensus): each rater's
fitted reliability and confusion, the models' learned weights beside the configured ones, and
the state of the latest fit job. Two queries: the latest finished fit and the latest job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from annotator.models import Dataset
from review.models_consensus import ConsensusFit
from review.selectors.latent import latest_fit, learned_model_weights
from review.selectors.samples import DEFAULT_WEIGHT

KIND_ORDER = {"model": 0, "classifier": 1, "critic": 2, "person": 3}
ACTIVE = (ConsensusFit.Status.PENDING, ConsensusFit.Status.RUNNING)


@dataclass(frozen=True)
class RaterReliability:
    key: str
    kind: str
    name: str
    n: int
    accuracy: float | None
    low: float | None
    high: float | None
    confusion: list[list[float]]  # P(says j | truth i)


@dataclass(frozen=True)
class WeightRow:
    model: str
    configured: float
    learned: float | None  # None: the fit has no accuracy for it

    @property
    def changes(self) -> bool:
        return self.learned is not None and round(self.learned, 4) != round(self.configured, 4)


@dataclass(frozen=True)
class FitJob:
    """The latest fit requested for the dataset, whatever its state."""

    pk: int
    status: str
    method: str
    created_at: datetime
    seconds: float | None  # the fit's own time when done; else the time since it was asked
    error: str

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class ConsensusAudit:
    dataset: Dataset
    fit: ConsensusFit | None
    job: FitJob | None
    labels: list[str] = field(default_factory=list)
    raters: list[RaterReliability] = field(default_factory=list)
    weights: list[WeightRow] = field(default_factory=list)

    @property
    def weight_changes(self) -> list[WeightRow]:
        return [row for row in self.weights if row.changes]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def rater_reliability(*, fit: ConsensusFit) -> list[RaterReliability]:
    """Every rater of the fit: models first, then the classifier, the critic, people."""
    rows = [
        RaterReliability(
            key=key,
            kind=str(info.get("kind", "")),
            name=str(info.get("name", key)),
            n=int(info.get("n", 0)),
            accuracy=_float(info.get("accuracy")),
            low=_float(info.get("accuracy_low")),
            high=_float(info.get("accuracy_high")),
            confusion=[[float(p) for p in row] for row in info.get("confusion") or []],
        )
        for key, info in (fit.raters or {}).items()
    ]
    return sorted(rows, key=lambda r: (KIND_ORDER.get(r.kind, 9), r.name.casefold(), r.key))


def weight_rows(*, dataset: Dataset, fit: ConsensusFit | None) -> list[WeightRow]:
    """Each model the fit learned a weight for or the dataset configures one for."""
    configured = {str(k): float(v) for k, v in (dataset.model_weights or {}).items()}
    learned = learned_model_weights(fit=fit) if fit is not None else {}
    names = sorted(set(configured) | set(learned), key=str.casefold)
    return [
        WeightRow(
            model=name, configured=configured.get(name, DEFAULT_WEIGHT), learned=learned.get(name)
        )
        for name in names
    ]


def fit_job(*, dataset: Dataset) -> FitJob | None:
    job = ConsensusFit.objects.filter(dataset=dataset).order_by("-created_at", "-pk").first()
    if job is None:
        return None
    seconds = job.seconds
    if job.status in ACTIVE:
        seconds = (timezone.now() - (job.started_at or job.created_at)).total_seconds()
    return FitJob(
        pk=job.pk,
        status=job.status,
        method=job.method,
        created_at=job.created_at,
        seconds=seconds,
        error=job.error,
    )


def consensus_audit(*, dataset: Dataset) -> ConsensusAudit:
    fit = latest_fit(dataset=dataset)
    return ConsensusAudit(
        dataset=dataset,
        fit=fit,
        job=fit_job(dataset=dataset),
        labels=list(fit.labels) if fit is not None else [],
        raters=rater_reliability(fit=fit) if fit is not None else [],
        weights=weight_rows(dataset=dataset, fit=fit),
    )
