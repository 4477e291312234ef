"""Reads behind blind-to-machines answering (annotator.models.Dataset.machine_blind): whether
the person's page still hides the machines, and what their revealed form starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotator.models import Sample
from review.models import BlindAnswer, Draft
from review.selectors.samples import adjudication_draft

TRIPLET = ("background", "attribute", "subject")


@dataclass(frozen=True)
class BlindState:
    """`applies`: the person answers a machine-blind dataset's sample; `answer`: their blind
    answer once committed. The machines stay hidden while it applies and no answer exists."""

    applies: bool = False
    answer: BlindAnswer | None = None

    @property
    def hides_machines(self) -> bool:
        return self.applies and self.answer is None


def blind_state(*, sample: Sample, user: Any, answering: bool) -> BlindState:
    """One query, and only when the person answers a blind dataset's sample."""
    if not (answering and sample.dataset.machine_blind):
        return BlindState()
    answer = BlindAnswer.objects.filter(sample=sample, annotator=user).first()
    return BlindState(applies=True, answer=answer)


def blind_form_initial(*, draft: Draft | None) -> dict[str, object]:
    """Before the commit: only what the person typed themselves (their draft), no prefill."""
    return dict(draft.data) if draft is not None else {}


def revealed_form_initial(*, sample: Sample, answer: BlindAnswer) -> dict[str, object]:
    """After the commit: the person's own blind answer; triplet elements they left empty take
    the machines' suggestion (their emotion is committed, the triplet was never asked blind)."""
    machines = adjudication_draft(sample=sample, proposals=list(sample.proposals.all()))
    initial: dict[str, object] = {"emotion": answer.emotion, "confidence": answer.confidence}
    for name in TRIPLET:
        initial[name] = getattr(answer, name) or machines.get(name, "")
    return initial
