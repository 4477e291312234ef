"""Whether a person may still change the answer they gave (read side of services.own_answers).

"Until the sample's label is final" depends on the dataset's overlap k:

- k = 1: the answer itself made the final label (method person). The person may change it while
  the current label is still the one their answer made: once an adjudicator decides on top of
  it, or an admin undoes it, it is no longer theirs to change.
- k > 1: while fewer than k people answered, nothing is decided. With k answers that disagree
  the sample waits for an adjudicator and an answer may still change (unless an adjudicator is
  resolving it right now). A consensus or an adjudicator's label is final.
- Gold samples never get a label from answers (they measure people): always changeable.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import Sample
from review.models import Adjudication, Annotation, Assignment, BinaryVote
from review.selectors.prepared import fetch
from review.selectors.samples import current_adjudication


def has_voted(*, sample: Sample, user: Any) -> bool:
    """Whether the person gave a binary vote on the sample: a prepared statement (every page
    and answer asks)."""
    values = {"sample_id": sample.pk, "user_id": user.pk}
    return bool(fetch(key="has_voted", build=_vote_of, values=values))


def _vote_of(*, sample_id: int, user_id: int) -> QuerySet[Any]:
    return BinaryVote.objects.filter(sample_id=sample_id, annotator_id=user_id).values_list("pk")[
        :1
    ]


def made_from_answer(*, adjudication: Adjudication, annotation: Annotation) -> bool:
    """The label version is one the person's answer (or their change of it) wrote (k = 1)."""
    answers = (adjudication.details or {}).get("answers") or []
    return (
        adjudication.method == Adjudication.Method.PERSON
        and adjudication.annotator_id == annotation.annotator_id
        and annotation.pk in answers
    )


def answer_change_refusal(*, sample: Sample, annotation: Annotation) -> str | None:
    """Why the person may not change this answer now; None when they may."""
    if annotation.source != Annotation.Source.APP:
        return "This answer was imported from elsewhere; it cannot be changed here."
    if sample.status == Sample.Status.DROPPED:
        return "This sample was dropped; its answers cannot change."
    if sample.gold_emotion:
        return None
    current = current_adjudication(sample=sample)
    if sample.dataset.overlap_k <= 1:
        if current is None:  # an admin undid the label the answer made
            return "The label your answer made was undone: the sample waits for an adjudicator."
        if made_from_answer(adjudication=current, annotation=annotation):
            return None
        return "Someone else has decided this sample since your answer: its label is final."
    if current is not None:
        return "This sample's label is final: your answer can no longer change."
    resolving = Assignment.objects.filter(
        sample=sample,
        kind=Assignment.Kind.ADJUDICATE,
        status=Assignment.Status.ACTIVE,
        expires_at__gt=timezone.now(),
    )
    if resolving.exists():
        return "An adjudicator is resolving this sample right now: your answer cannot change."
    return None
