"""Weighted cross-verification: do the models agree on a sample's emotion?

Pure scoring (`cross_verify`) is kept apart from the write (`verify_sample`) so the rule can be
unit-tested without a database and reused by the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import transaction

from annotator.models import CriticVerdict, Sample
from annotator.services.sample_status import status_fields

DEFAULT_WEIGHT = 1.0


@dataclass(frozen=True)
class Vote:
    model_name: str
    emotion: str


@dataclass(frozen=True)
class Verification:
    status: str  # Sample.Status value
    suggested_emotion: str
    margin: float | None  # (top - runner-up) / total weight; 1.0 when unanimous
    reasons: list[dict[str, object]] = field(default_factory=list)


def cross_verify(
    *, votes: Iterable[Vote], weights: Mapping[str, float], labels: list[str]
) -> Verification:
    """Agreed when every vote names the same emotion; disputed otherwise.

    Ties in the weighted vote go to the label that comes first in the taxonomy, so the result
    never depends on the order the proposals were stored in.
    """
    cast = [v for v in votes if v.emotion]
    if not cast:
        return Verification(status=Sample.Status.PENDING, suggested_emotion="", margin=None)
    totals: dict[str, float] = {}
    for vote in cast:
        totals[vote.emotion] = totals.get(vote.emotion, 0.0) + weights.get(
            vote.model_name, DEFAULT_WEIGHT
        )
    order = {label: i for i, label in enumerate(labels)}
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0]))
    top_weight = ranked[0][1]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    total = sum(totals.values())
    margin = (top_weight - runner_up) / total if total > 0 else 0.0
    if len(totals) == 1:
        return Verification(Sample.Status.AGREED, ranked[0][0], round(margin, 6))
    reason: dict[str, object] = {
        "type": "label_mismatch",
        "models": {v.model_name: v.emotion for v in sorted(cast, key=lambda v: v.model_name)},
    }
    return Verification(Sample.Status.DISPUTED, ranked[0][0], round(margin, 6), [reason])


def latest_verdict(*, sample: Sample) -> CriticVerdict | None:
    return sample.verdicts.order_by("-created_at", "-id").first()


def apply_review_rules(
    *, result: Verification, verdict: str, verdict_emotion: str, current_status: str
) -> tuple[str, str]:
    """(status, suggestion) once the critic and people have their say over the vote.

    A person's decision is never undone by the machines: adjudicated samples keep their status.
    A critic's drop verdict marks the sample dropped; a preserve verdict's emotion becomes the
    suggestion people see.
    """
    status, suggested = result.status, result.suggested_emotion
    if verdict == CriticVerdict.Verdict.DROP:
        status = Sample.Status.DROPPED
    elif verdict == CriticVerdict.Verdict.PRESERVE:
        suggested = verdict_emotion or suggested
    if current_status == Sample.Status.ADJUDICATED:
        status = Sample.Status.ADJUDICATED
    return str(status), suggested


def verify_sample(*, sample: Sample) -> Verification:
    """Recompute and store the sample's status, suggestion, margin and reasons."""
    dataset = sample.dataset
    votes = [Vote(p.model_name, p.emotion) for p in sample.proposals.all()]
    result = cross_verify(
        votes=votes, weights=dataset.model_weights or {}, labels=dataset.taxonomy.labels
    )
    verdict = latest_verdict(sample=sample)
    status, suggested = apply_review_rules(
        result=result,
        verdict=verdict.verdict if verdict else "",
        verdict_emotion=verdict.emotion if verdict else "",
        current_status=sample.status,
    )
    with transaction.atomic():
        Sample.objects.filter(pk=sample.pk).update(
            **status_fields(status),
            suggested_emotion=suggested,
            vote_margin=result.margin,
            dispute_reasons=result.reasons,
        )
    sample.status, sample.suggested_emotion = status, suggested
    sample.vote_margin, sample.dispute_reasons = result.margin, result.reasons
    return Verification(status, suggested, result.margin, result.reasons)
