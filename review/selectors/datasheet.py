"""What a dataset's datasheet states, read with aggregate queries (no row loops): counts by
status, source and label, the final labels' deciders, models and prompt versions, the critic's
latest verdicts, people's answers and how many people gave them, and the audit's agreement
figures (review.selectors.audit: the dashboard's own numbers, not recomputed here).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet

from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from review.models import Adjudication, Annotation, BinaryVote, BlindAnswer
from review.models_consensus import SamplePosterior
from review.selectors.audit import AuditFilters, audit_figures
from review.selectors.export import (
    DECIDED_STATUSES,
    SCOPE_DECIDED,
    SCOPES,
    export_status_counts,
)
from review.selectors.export_posterior import latest_done_fit
from review.selectors.snapshot import consistent_snapshot


@dataclass(frozen=True)
class DatasheetFacts:
    status_counts: dict[str, int]  # the whole dataset, every status
    in_scope: int
    source_counts: dict[str, int]  # in scope; "" = no source
    label_counts: dict[str, int]  # final labels in scope (adjudicated + agreed)
    decided_by: dict[str, int]  # agreed -> "models"; adjudicated -> the label's method
    models: list[tuple[str, str, int]]  # (model, prompt version, proposals)
    critic_models: list[tuple[str, str, int]]  # (critic model, prompt version, verdicts)
    critic_verdicts: dict[str, int]  # each sample's latest verdict
    answers: dict[str, int] = field(default_factory=dict)  # kind -> rows
    annotators: int = 0  # distinct people with an answer, vote or final label
    agreement: dict[str, Any] = field(default_factory=dict)  # audit_figures' models/human
    consensus: ConsensusFacts | None = None  # the latest latent-class fit, None without one


@dataclass(frozen=True)
class ConsensusFacts:
    """The fit the export's posteriors come from, and their mean entropy in the scope."""

    method: str
    finished_at: datetime | None
    n_samples: int
    n_ratings: int
    in_scope: int  # samples in the export's scope with a posterior of this fit
    mean_entropy: float | None  # bits, over those samples


def _consensus(*, scoped: QuerySet[Sample], dataset: Dataset) -> ConsensusFacts | None:
    fit = latest_done_fit(dataset=dataset)
    if fit is None:
        return None
    figures = SamplePosterior.objects.filter(fit_id=fit.fit_id, sample__in=scoped).aggregate(
        n=Count("sample_id"), mean=Avg("entropy")
    )
    return ConsensusFacts(
        method=fit.method,
        finished_at=fit.finished_at,
        n_samples=fit.n_samples,
        n_ratings=fit.n_ratings,
        in_scope=figures["n"],
        mean_entropy=figures["mean"],
    )


def _scoped(*, dataset: Dataset, scope: str) -> QuerySet[Sample]:
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}: use one of {', '.join(SCOPES)}")
    samples = Sample.objects.filter(dataset=dataset).order_by()
    return samples.filter(status__in=DECIDED_STATUSES) if scope == SCOPE_DECIDED else samples


def _grouped(qs: QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
    """(field values..., count) per group, largest first, then by the values."""
    rows = qs.order_by().values_list(*fields).annotate(n=Count("id"))
    return sorted(rows, key=lambda row: (-row[-1], tuple(str(v) for v in row[:-1])))


def current_labels(*, dataset: Dataset) -> QuerySet[Adjudication]:
    """Each adjudicated sample's current label: the highest version not reverted."""
    newer = Adjudication.objects.filter(
        sample_id=OuterRef("sample_id"), reverted=False, version__gt=OuterRef("version")
    )
    return Adjudication.objects.filter(
        sample__dataset=dataset, sample__status=Sample.Status.ADJUDICATED, reverted=False
    ).filter(~Exists(newer))


def _labels(*, dataset: Dataset) -> tuple[Counter[str], Counter[str]]:
    """(labels, decided_by) over the decided samples: both scopes label only those."""
    labels: Counter[str] = Counter()
    deciders: Counter[str] = Counter()
    agreed = Sample.objects.filter(dataset=dataset, status=Sample.Status.AGREED).exclude(
        suggested_emotion=""
    )
    for emotion, n in _grouped(agreed, "suggested_emotion"):
        labels[emotion] += n
        deciders["models"] += n
    for emotion, method, n in _grouped(current_labels(dataset=dataset), "emotion", "method"):
        labels[emotion] += n
        deciders[method] += n
    return labels, deciders


def _latest_verdicts(*, dataset: Dataset) -> dict[str, int]:
    newer = CriticVerdict.objects.filter(sample_id=OuterRef("sample_id")).filter(
        Q(created_at__gt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id"))
    )
    latest = CriticVerdict.objects.filter(sample__dataset=dataset).filter(~Exists(newer))
    return {verdict: n for verdict, n in _grouped(latest, "verdict")}


def _people(*, dataset: Dataset) -> tuple[dict[str, int], int]:
    """Rows per kind of human answer, and the number of distinct people behind them."""
    on = {"sample__dataset": dataset}
    kinds: dict[str, int] = {}
    for source, n in _grouped(Annotation.objects.filter(**on), "source"):
        kinds[f"answers ({source})"] = n
    for source, n in _grouped(BinaryVote.objects.filter(**on), "source"):
        kinds[f"yes/no votes ({source})"] = n
    kinds["blind answers"] = BlindAnswer.objects.filter(**on).count()
    people = (
        Annotation.objects.filter(**on).values("annotator_id")
        .union(BinaryVote.objects.filter(**on).values("annotator_id"))
        .union(BlindAnswer.objects.filter(**on).values("annotator_id"))
        .union(Adjudication.objects.filter(**on, annotator__isnull=False).values("annotator_id"))
    )  # fmt: skip
    return kinds, len(list(people))


def datasheet_facts(*, dataset: Dataset, scope: str) -> DatasheetFacts:
    """Every figure of the datasheet, in one snapshot; agreement over the whole dataset."""
    with consistent_snapshot():
        scoped = _scoped(dataset=dataset, scope=scope)
        labels, deciders = _labels(dataset=dataset)
        answers, annotators = _people(dataset=dataset)
        on = {"sample__dataset": dataset}
        figures = audit_figures(filters=AuditFilters(dataset=dataset), fresh=True)
        return DatasheetFacts(
            status_counts=export_status_counts(dataset=dataset),
            in_scope=scoped.count(),
            source_counts={s: n for s, n in _grouped(scoped, "source")},
            label_counts=dict(labels.most_common()),
            decided_by=dict(deciders.most_common()),
            models=_grouped(Proposal.objects.filter(**on), "model_name", "prompt_version"),  # type: ignore[arg-type]
            critic_models=_grouped(  # type: ignore[arg-type]
                CriticVerdict.objects.filter(**on), "model_name", "prompt_version"
            ),
            critic_verdicts=_latest_verdicts(dataset=dataset),
            answers=answers,
            annotators=annotators,
            agreement={key: figures.get(key) for key in ("models", "human", "binary")},
            consensus=_consensus(scoped=scoped, dataset=dataset),
        )
