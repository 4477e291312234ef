"""Blind to machines (annotator.models.Dataset.machine_blind): an annotator first commits an
emotion and a confidence without seeing the machines' proposals, critic, boxes, masks or any
prefill; then the page shows them and the person may revise before saving their final answer.

How the two answers relate:
- the final answer (review.services.consensus.submit_answer, unchanged) is the one that counts:
  consensus, adjudication, export and agreement use it;
- the blind answer is kept beside it (review.models.BlindAnswer) for the audit's anchoring
  figures (review.selectors.anchoring); committing twice keeps the first one;
- a final answer saved on a blind dataset with no blind answer before it (a stale page's plain
  POST, say) was given without seeing the machines, so it is kept as the blind answer too.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Sample
from review.labels import LABEL_FIELDS_NO_NOTES, Label, label_of
from review.models import Annotation, Assignment, BlindAnswer, Draft
from review.services import history
from review.services.adjudication import MAX_TIME_SPENT_MS, check_label
from review.services.consensus import AnswerOutcome, submit_answer

BLIND_ANSWER = "blind_answer"  # the audit event of a commit (the sample's history shows it)
OPEN_LEASE = (Assignment.Status.ACTIVE, Assignment.Status.EXPIRED)


def commit_blind_answer(
    *,
    sample: Sample,
    annotator: Any,
    label: Label,
    time_spent_ms: int = 0,
) -> BlindAnswer:
    """Keep the person's answer given blind; from now on their page shows the machines.

    Raises ValidationError when the dataset is not blind, the label is invalid (keyed by
    field), the person holds no lease on the sample or already answered it. A second commit
    returns the first blind answer unchanged.
    """
    if not sample.dataset.machine_blind:
        raise ValidationError("This dataset shows the machines' proposals from the start.")
    label = check_label(sample=sample, label=label, time_spent_ms=time_spent_ms)
    with transaction.atomic():
        _check_answering(sample=sample, annotator=annotator)
        blind, created = BlindAnswer.objects.get_or_create(
            sample=sample,
            annotator=annotator,
            defaults=_blind_fields(sample=sample, label=label, time_spent_ms=time_spent_ms),
        )
        if created:
            # The draft held these same blind inputs; the revealed form starts from the answer.
            Draft.objects.filter(sample=sample, author=annotator).delete()
            history.record_event(
                sample=sample, actor=annotator, action=BLIND_ANSWER, after=_event(blind)
            )
    return blind


def submit_final_answer(
    *,
    sample: Sample,
    annotator: Any,
    label: Label,
    time_spent_ms: int = 0,
    base_version: int | None = None,
) -> AnswerOutcome:
    """submit_answer, and on a blind dataset keep the answer as the blind one too when the
    person never committed one (they answered without seeing the machines). Raises what
    submit_answer raises; nothing is written then."""
    answer = partial(
        submit_answer,
        sample=sample,
        annotator=annotator,
        label=label,
        time_spent_ms=time_spent_ms,
        base_version=base_version,
    )
    if not sample.dataset.machine_blind:
        return answer()  # its own transaction: no savepoint around it (two statements)
    with transaction.atomic():
        outcome = answer()
        _keep_final_as_blind(sample=sample, annotation=outcome.annotation)
    return outcome


def _keep_final_as_blind(*, sample: Sample, annotation: Annotation) -> None:
    label = label_of(annotation)
    if annotation.confidence is None:
        label = replace(label, confidence=0.0)
    BlindAnswer.objects.get_or_create(
        sample=sample,
        annotator=annotation.annotator,
        defaults=_blind_fields(sample=sample, label=label, time_spent_ms=annotation.time_spent_ms),
    )


def _check_answering(*, sample: Sample, annotator: Any) -> None:
    lease = Assignment.objects.filter(
        sample=sample, annotator=annotator, kind=Assignment.Kind.ANNOTATE
    ).first()
    if lease is None or lease.status not in OPEN_LEASE:
        raise ValidationError("This sample is not assigned to you: open it with “Next”.")
    if Annotation.objects.filter(sample=sample, annotator=annotator).exists():
        raise ValidationError("You already answered this sample.")


def _blind_fields(*, sample: Sample, label: Label, time_spent_ms: int) -> dict[str, Any]:
    return {
        **{name: getattr(label, name) for name in LABEL_FIELDS_NO_NOTES},
        # What the page reveals next: anchoring is measured against this suggestion.
        "suggested_emotion": sample.suggested_emotion,
        "time_spent_ms": min(max(time_spent_ms, 0), MAX_TIME_SPENT_MS),
    }


def _event(blind: BlindAnswer) -> dict[str, Any]:
    fields = (*LABEL_FIELDS_NO_NOTES, "suggested_emotion")
    return {name: getattr(blind, name) for name in fields}
