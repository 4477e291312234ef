"""Anchoring: how people's final answers moved once they saw the machines.

On a machine-blind dataset (annotator.models.Dataset.machine_blind) each person's first answer
is given before the page shows the models (review.models.BlindAnswer) and their final answer
after it (review.models.Annotation). Compared per person and in total: how often the final
emotion differs from the blind one, how often it moved to the machines' suggestion (the blind
answer differed from it, the final one names it) or away from it, and the mean confidence change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any

from django.db.models import OuterRef, Subquery

from review.models import Annotation, BlindAnswer
from review.selectors.audit_query import AuditFilters


@dataclass(frozen=True)
class AnchoringRow:
    annotator: str  # "" for the total
    answers: int  # final answers with a blind answer beside them
    changed: int  # the final emotion differs from the blind one
    toward_machines: int  # changed to the machines' suggestion
    away_from_machines: int  # changed although the blind answer was the machines' suggestion
    blind_as_machines: int  # the blind answer already named the suggestion
    final_as_machines: int
    confidence_change: float | None  # mean of final - blind confidence

    def share(self, count: int) -> float | None:
        return count / self.answers if self.answers else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_share"] = self.share(self.changed)
        data["toward_machines_share"] = self.share(self.toward_machines)
        return data


@dataclass(frozen=True)
class Pair:
    """One person's blind and final answer on one sample, and the suggestion they saw."""

    annotator: str
    blind: str
    final: str
    suggested: str
    blind_confidence: float | None
    final_confidence: float | None


@dataclass(frozen=True)
class Anchoring:
    total: AnchoringRow
    people: list[AnchoringRow]

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total.as_json(), "people": [p.as_json() for p in self.people]}


def answer_pairs(*, filters: AuditFilters) -> list[Pair]:
    """Final answers made in the app with a blind answer beside them, in the selection (the
    date range applies to the final answer)."""
    blind = BlindAnswer.objects.filter(sample=OuterRef("sample"), annotator=OuterRef("annotator"))
    qs = Annotation.objects.filter(
        sample__dataset=filters.dataset,
        source=Annotation.Source.APP,
        **filters.window("created_at"),
    )
    if filters.source:
        qs = qs.filter(sample__source=filters.source)
    rows = (
        qs.annotate(
            blind_emotion=Subquery(blind.values("emotion")[:1]),
            blind_confidence=Subquery(blind.values("confidence")[:1]),
            blind_suggested=Subquery(blind.values("suggested_emotion")[:1]),
        )
        .filter(blind_emotion__isnull=False)
        .values_list(
            "annotator__username",
            "blind_emotion",
            "emotion",
            "blind_suggested",
            "blind_confidence",
            "confidence",
        )
        .order_by("annotator__username", "id")
    )
    return [Pair(*row) for row in rows]


def anchoring(*, filters: AuditFilters) -> Anchoring:
    pairs = answer_pairs(filters=filters)
    by_person: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_person[pair.annotator].append(pair)
    return Anchoring(
        total=summarise(annotator="", pairs=pairs),
        people=[summarise(annotator=name, pairs=rows) for name, rows in by_person.items()],
    )


def summarise(*, annotator: str, pairs: Iterable[Pair]) -> AnchoringRow:
    pairs = list(pairs)
    changed = [p for p in pairs if p.final != p.blind]
    shifts = [
        p.final_confidence - p.blind_confidence
        for p in pairs
        if p.final_confidence is not None and p.blind_confidence is not None
    ]
    return AnchoringRow(
        annotator=annotator,
        answers=len(pairs),
        changed=len(changed),
        toward_machines=sum(1 for p in changed if p.suggested and p.final == p.suggested),
        away_from_machines=sum(1 for p in changed if p.suggested and p.blind == p.suggested),
        blind_as_machines=sum(1 for p in pairs if p.suggested and p.blind == p.suggested),
        final_as_machines=sum(1 for p in pairs if p.suggested and p.final == p.suggested),
        confidence_change=round(fmean(shifts), 3) if shifts else None,
    )
