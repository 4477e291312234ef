"""Blind answers and what follows from them: with k = 1 the answer is the final label
(method person); with k > 1 the k-th answer settles the sample: the same emotion from everyone is
the final label (method consensus), anything else waits for an adjudicator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.models import Sample
from review.labels import Label
from review.models import Adjudication, Annotation, Assignment, Draft
from review.selectors.assignment import annotate_lease, sample_load
from review.selectors.samples import locked_sample
from review.services import history
from review.services.adjudication import MAX_TIME_SPENT_MS, check_label, record_final_label


class LeaseLost(ValidationError):
    """The annotator's lease ran out and the sample went to others meanwhile."""


@dataclass(frozen=True)
class AnswerOutcome:
    annotation: Annotation
    decision: Adjudication | None  # the final label this answer completed, if any
    conflict: bool = False  # the k answers disagree: an adjudicator decides


def lock_sample_for_answers(*, pk: int) -> Sample:
    """The sample, row-locked until the transaction ends: answers (new or changed) on one
    sample take turns. Call inside transaction.atomic()."""
    # Only the sample's row: on PostgreSQL a FOR UPDATE over a join with the dataset would lock
    # the dataset row too, and every answer in the dataset would wait for the one before it.
    locked = locked_sample(pk=pk)
    if locked is None:
        raise Sample.DoesNotExist(f"no sample {pk}")
    return locked


def submit_answer(
    *,
    sample: Sample,
    annotator: Any,
    label: Label,
    time_spent_ms: int = 0,
    base_version: int | None = None,
) -> AnswerOutcome:
    """Store the annotator's answer under their lease, then settle the sample if it is due.

    Raises ValidationError for a bad label, LeaseLost when the lease expired and the sample has
    no room left, and VersionConflict (k = 1 only) when someone decided the sample since
    `base_version`. Nothing is written in any of those cases.
    """
    label = check_label(sample=sample, label=label, time_spent_ms=time_spent_ms)
    stored = False
    try:
        with transaction.atomic():
            # The row lock serialises answers on one sample, so "the k-th answer" is exact.
            locked = lock_sample_for_answers(pk=sample.pk)
            _check_lease(sample=locked, annotator=annotator)
            # No savepoint of its own (two statements): a second answer from the same person
            # fails the unique constraint, and the whole transaction is rolled back anyway.
            annotation = Annotation.objects.create(
                sample=locked,
                annotator=annotator,
                time_spent_ms=min(time_spent_ms, MAX_TIME_SPENT_MS),
                **label.as_dict(),
            )
            stored = True
            outcome = _record_answer(
                sample=locked, annotation=annotation, label=label, base_version=base_version
            )
    except IntegrityError as exc:
        if stored:
            raise
        raise ValidationError("You already answered this sample.") from exc
    sample.status = locked.status
    return outcome


def _record_answer(
    *, sample: Sample, annotation: Annotation, label: Label, base_version: int | None
) -> AnswerOutcome:
    """The lease closed, the draft gone, the event kept, then the sample settled if due."""
    annotator = annotation.annotator
    Assignment.objects.filter(
        sample=sample, annotator=annotator, kind=Assignment.Kind.ANNOTATE
    ).update(status=Assignment.Status.SUBMITTED, finished_at=timezone.now())
    Draft.objects.filter(sample=sample, author=annotator).delete()
    history.record_event(
        sample=sample, actor=annotator, action=history.ANSWER, after=label.as_dict()
    )
    return _settle(sample=sample, annotation=annotation, label=label, base_version=base_version)


def _check_lease(*, sample: Sample, annotator: Any) -> None:
    lease = annotate_lease(sample=sample, user=annotator)
    if lease is None or lease.status in (Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED):
        raise ValidationError("This sample is not assigned to you: open it with “Next”.")
    now = timezone.now()
    if lease.status == Assignment.Status.ACTIVE and lease.expires_at > now:
        return
    # A late answer is kept while the sample still has room for it (no lost work).
    answers, leases = sample_load(sample=sample, now=now)
    if not sample.gold_emotion and answers + leases >= sample.dataset.overlap_k:
        raise LeaseLost(
            "Your lease on this sample ran out and it went to someone else; nothing was saved."
        )


def _settle(
    *, sample: Sample, annotation: Annotation, label: Label, base_version: int | None
) -> AnswerOutcome:
    if sample.gold_emotion or sample.status not in (Sample.Status.DISPUTED, Sample.Status.AGREED):
        return AnswerOutcome(annotation=annotation, decision=None)  # gold: measured only
    k = sample.dataset.overlap_k
    if k <= 1:
        decision = record_person_label(
            sample=sample, annotation=annotation, label=label, base_version=base_version or 0
        )
        return AnswerOutcome(annotation=annotation, decision=decision)
    answers = answers_in_order(sample=sample)
    if len(answers) != k:
        return AnswerOutcome(annotation=annotation, decision=None)
    agreed = record_consensus(sample=sample, answers=answers)
    if agreed is None:
        history.record_event(
            sample=sample,
            actor=None,
            action=history.CONFLICT,
            after={a.annotator.username: a.emotion for a in answers},
        )
        return AnswerOutcome(annotation=annotation, decision=None, conflict=True)
    return AnswerOutcome(annotation=annotation, decision=agreed)


def answers_in_order(*, sample: Sample) -> list[Annotation]:
    return list(Annotation.objects.filter(sample=sample).select_related("annotator").order_by("id"))


def record_person_label(
    *,
    sample: Sample,
    annotation: Annotation,
    label: Label,
    base_version: int,
    changed: bool = False,
) -> Adjudication:
    """k = 1: the person's answer is the final label (method person), on `base_version`.
    `sample` is the row-locked instance the caller goes on to read."""
    details: dict[str, Any] = {"answers": [annotation.pk]}
    if changed:
        details["changed_answer"] = True
    return record_final_label(
        sample=sample,
        label=label,
        method=Adjudication.Method.PERSON,
        decided_by=annotation.annotator,
        base_version=base_version,
        details=details,
        time_spent_ms=annotation.time_spent_ms,
    )


def record_consensus(*, sample: Sample, answers: list[Annotation]) -> Adjudication | None:
    """The answers' shared label as the final label (method consensus); None when they
    disagree. Call under the sample's row lock (lock_sample_for_answers)."""
    agreed = consensus_label(answers=answers)
    if agreed is None:
        return None
    return record_final_label(
        sample=sample,
        label=agreed,
        method=Adjudication.Method.CONSENSUS,
        decided_by=None,
        base_version=None,
        details={
            "annotators": [a.annotator.username for a in answers],
            "answers": [a.pk for a in answers],
        },
    )


def consensus_label(*, answers: Sequence[Annotation]) -> Label | None:
    """The shared label when every answer names the same emotion, else None.

    Confidence is the mean; each triplet element is the most common non-empty answer (ties go
    to the earliest answer).
    """
    emotions = {a.emotion for a in answers}
    if len(answers) == 0 or len(emotions) != 1 or not next(iter(emotions)):
        return None
    confidences = [a.confidence for a in answers if a.confidence is not None]
    return Label(
        emotion=answers[0].emotion,
        confidence=round(fmean(confidences), 2) if confidences else 0.0,
        background=_most_common([a.background for a in answers]),
        attribute=_most_common([a.attribute for a in answers]),
        subject=_most_common([a.subject for a in answers]),
    )


def _most_common(values: list[str]) -> str:
    present = [v.strip() for v in values if v.strip()]
    if not present:
        return ""
    counts = Counter(v.casefold() for v in present)
    best = max(counts.values())
    return next(v for v in present if counts[v.casefold()] == best)
