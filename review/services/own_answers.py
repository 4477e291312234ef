"""A person changes their own answer while the sample's label is not final.

When that is depends on the overlap k (review.selectors.own_answers): with k = 1 the answer made
the label, so a change writes the next version of that label (still the person's own); with
k > 1 a change that makes all k answers agree settles the sample by consensus, as the k-th
answer would have. Gold samples only measure people: their answers never make a label.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Sample
from review.labels import LABEL_FIELDS, Label, label_of
from review.models import Adjudication, Annotation, Draft
from review.selectors.own_answers import answer_change_refusal
from review.selectors.samples import current_adjudication
from review.services import history
from review.services.adjudication import MAX_TIME_SPENT_MS, VersionConflict, check_label
from review.services.consensus import (
    AnswerOutcome,
    answers_in_order,
    lock_sample_for_answers,
    record_consensus,
    record_person_label,
)


class AnswerFinal(ValidationError):
    """The sample's label is final (or no longer the person's): the answer cannot change."""


def change_own_answer(
    *,
    sample: Sample,
    annotator: Any,
    label: Label,
    time_spent_ms: int = 0,
    base_version: int | None = None,
) -> AnswerOutcome:
    """Replace the annotator's answer on the sample and settle the sample again if it is due.

    Raises ValidationError for a bad label or when they never answered it, AnswerFinal when the
    label is final, and VersionConflict when the label changed since `base_version` (the
    version their page showed). Nothing is written in any of those cases.
    """
    label = check_label(sample=sample, label=label, time_spent_ms=time_spent_ms)
    with transaction.atomic():
        # The same row lock as a new answer's: changes and answers on one sample take turns.
        locked = lock_sample_for_answers(pk=sample.pk)
        annotation = _own_answer(sample=locked, annotator=annotator)
        current = current_adjudication(sample=locked)
        current_version = current.version if current else 0
        if base_version is not None and base_version != current_version:
            raise VersionConflict(theirs=current, yours=label, base_version=base_version)
        before = label_of(annotation).as_dict()
        for field, value in label.as_dict().items():
            setattr(annotation, field, value)
        # Time spent on the answer in all: the first visit and this one.
        spent = annotation.time_spent_ms + max(time_spent_ms, 0)
        annotation.time_spent_ms = min(spent, MAX_TIME_SPENT_MS)
        annotation.save(update_fields=[*LABEL_FIELDS, "time_spent_ms"])
        Draft.objects.filter(sample=locked, author=annotator).delete()
        history.record_event(
            sample=locked,
            actor=annotator,
            action=history.CHANGE_ANSWER,
            before=before,
            after=label.as_dict(),
        )
        outcome = _settle_change(sample=locked, annotation=annotation, label=label, current=current)
    sample.status = locked.status
    return outcome


def _own_answer(*, sample: Sample, annotator: Any) -> Annotation:
    annotation = Annotation.objects.filter(sample=sample, annotator=annotator).first()
    if annotation is None:
        raise ValidationError("You have not answered this sample: there is nothing to change.")
    refusal = answer_change_refusal(sample=sample, annotation=annotation)
    if refusal is not None:
        raise AnswerFinal(refusal)
    return annotation


def _settle_change(
    *, sample: Sample, annotation: Annotation, label: Label, current: Adjudication | None
) -> AnswerOutcome:
    """k = 1: the next version of the person's label; k > 1: a consensus if all k now agree."""
    if sample.gold_emotion:
        return AnswerOutcome(annotation=annotation, decision=None)
    if sample.dataset.overlap_k <= 1:
        # The refusal check guarantees `current` is the label this person's answer made.
        assert current is not None
        if label_of(current) == label:
            return AnswerOutcome(annotation=annotation, decision=current)  # nothing changed
        decision = record_person_label(
            sample=sample,
            annotation=annotation,
            label=label,
            base_version=current.version,
            changed=True,
        )
        return AnswerOutcome(annotation=annotation, decision=decision)
    answers = answers_in_order(sample=sample)
    if len(answers) < sample.dataset.overlap_k:
        return AnswerOutcome(annotation=annotation, decision=None)
    agreed = record_consensus(sample=sample, answers=answers)
    return AnswerOutcome(annotation=annotation, decision=agreed, conflict=agreed is None)
