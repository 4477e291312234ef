"""Final labels: versioned writes (person, consensus, adjudicator) and undo.

A sample's final label is the highest Adjudication version that is not reverted. A save names
the version it was based on; when that is no longer the current one, or another save wrote the
same new version first (unique (sample, version)), the save is refused with VersionConflict and
nothing is written: never a silent overwrite.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from annotator.models import Sample
from annotator.services.sample_status import set_status
from annotator.taxonomy import normalise_label
from review.labels import Label, label_of
from review.limits import NOTES_MAX_LENGTH
from review.models import Adjudication, Assignment, Draft
from review.policy import is_decision_author
from review.selectors.samples import current_adjudication, next_label_version
from review.services import history

MAX_CONFIDENCE = 10.0
# PositiveIntegerField's ceiling (~24 days); a tab left open longer is capped, not refused.
MAX_TIME_SPENT_MS = 2_147_483_647


class VersionConflict(Exception):
    """Another change reached the sample first; `theirs` is the current version (or None)."""

    def __init__(self, *, theirs: Adjudication | None, yours: Label, base_version: int) -> None:
        self.theirs = theirs
        self.yours = yours
        self.base_version = base_version
        current = theirs.version if theirs else 0
        super().__init__(
            f"This label changed since you opened it (you started from version {base_version}, "
            f"it is now version {current}). Nothing was saved."
        )


def check_label(*, sample: Sample, label: Label, time_spent_ms: int = 0) -> Label:
    """The label in the dataset taxonomy's spelling, the text stripped; ValidationError keyed
    by field otherwise."""
    labels = sample.dataset.taxonomy.labels
    emotion = normalise_label(label.emotion, labels)
    confidence = label.confidence
    notes = label.notes.strip()
    errors: dict[str, str] = {}
    if emotion is None:
        errors["emotion"] = f"{label.emotion!r} is not in the taxonomy ({', '.join(labels)})."
    # None: a caller that built the Label by hand without one (forms and the API require it).
    if confidence is None or not (
        math.isfinite(confidence) and 0.0 <= confidence <= MAX_CONFIDENCE
    ):
        errors["confidence"] = f"Confidence must be between 0 and 10, not {confidence}."
    if time_spent_ms < 0:
        errors["time_spent_ms"] = "Time spent cannot be negative."
    if len(notes) > NOTES_MAX_LENGTH:
        errors["notes"] = (
            f"Notes are at most {NOTES_MAX_LENGTH} characters (these are {len(notes)})."
        )
    if errors or emotion is None:
        raise ValidationError(errors)
    return Label(
        emotion=emotion,
        confidence=confidence,
        background=label.background.strip(),
        attribute=label.attribute.strip(),
        subject=label.subject.strip(),
        notes=notes,
    )


def record_final_label(
    *,
    sample: Sample,
    label: Label,
    method: str,
    decided_by: Any,
    base_version: int | None,
    details: dict[str, Any] | None = None,
    time_spent_ms: int = 0,
    actor: Any = None,
) -> Adjudication:
    """Write version N+1 of the sample's final label and mark the sample adjudicated.

    `base_version` is the version the author saw (0 = none); None skips that check (a consensus
    written under the sample's row lock). Call inside a transaction: a VersionConflict leaves
    the caller to roll back whatever else it wrote.
    """
    current = current_adjudication(sample=sample)
    current_version = current.version if current else 0
    if base_version is not None and base_version != current_version:
        raise VersionConflict(theirs=current, yours=label, base_version=base_version)
    highest = next_label_version(sample=sample) - 1
    details = dict(details or {})
    # The status to return to when every version is undone.
    details["status_before"] = (
        current.details.get("status_before", Sample.Status.DISPUTED) if current else sample.status
    )
    try:
        with transaction.atomic():  # a savepoint: the unique version decides between racers
            adjudication = Adjudication.objects.create(
                sample=sample,
                annotator=decided_by,
                method=method,
                version=highest + 1,
                details=details,
                time_spent_ms=min(max(time_spent_ms, 0), MAX_TIME_SPENT_MS),
                **label.as_dict(),
            )
    except IntegrityError as exc:
        theirs = current_adjudication(sample=sample)
        raise VersionConflict(
            theirs=theirs,
            yours=label,
            base_version=current_version if base_version is None else base_version,
        ) from exc
    sample.save(update_fields=set_status(sample, Sample.Status.ADJUDICATED))
    history.record_event(
        sample=sample,
        actor=actor if actor is not None else decided_by,
        action=history.CONSENSUS if method == Adjudication.Method.CONSENSUS else history.DECIDE,
        before=history.adjudication_snapshot(current),
        after=history.adjudication_snapshot(adjudication),
    )
    return adjudication


def adjudicate_sample(
    *,
    sample: Sample,
    annotator: Any,
    label: Label,
    time_spent_ms: int = 0,
    base_version: int | None = None,
    method: str = Adjudication.Method.ADJUDICATOR,
) -> Adjudication:
    """An adjudicator's (or a person's) final label; the sample is marked adjudicated.

    Raises ValidationError (keyed by field) for a label outside the dataset's taxonomy, a
    confidence outside 0..10, notes over NOTES_MAX_LENGTH or a negative time; VersionConflict
    when `base_version` is not the current version any more. Closes the author's adjudication
    lease and discards their draft.
    """
    label = check_label(sample=sample, label=label, time_spent_ms=time_spent_ms)
    with transaction.atomic():
        # One writer of the sample's label at a time, so that the version check and the new
        # version number read the same committed state: without the lock a racer could read
        # "no label yet", then the winner's version 1, and write version 2 over it.
        Sample.objects.select_for_update().filter(pk=sample.pk).values_list("pk").first()
        adjudication = record_final_label(
            sample=sample,
            label=label,
            method=method,
            decided_by=annotator,
            base_version=base_version,
            time_spent_ms=time_spent_ms,
        )
        Assignment.objects.filter(
            sample=sample,
            annotator=annotator,
            kind=Assignment.Kind.ADJUDICATE,
            status=Assignment.Status.ACTIVE,
        ).update(status=Assignment.Status.SUBMITTED, finished_at=adjudication.decided_at)
        Draft.objects.filter(sample=sample, author=annotator).delete()
    return adjudication


def can_undo(*, user: Any, adjudication: Adjudication | None) -> bool:
    """The author of the current version, or an admin, may undo it (review.policy)."""
    return is_decision_author(user=user, adjudication=adjudication)


def undo_last_decision(*, sample: Sample, actor: Any, version: int) -> Adjudication | None:
    """Mark the current version reverted and restore the previous one (or the earlier status).

    `version` is the version the actor saw and means to undo: when it is not the current one
    (another change came first) the undo is refused with VersionConflict and nothing changes,
    so an undo never reverts a later label its author did not see. Returns the version now
    current (None when none is left).
    """
    with transaction.atomic():
        locked = Sample.objects.select_for_update().defer("des").get(pk=sample.pk)
        current = current_adjudication(sample=locked)
        if current is None:
            raise ValidationError("There is no decision to undo on this sample.")
        if version != current.version:
            raise VersionConflict(theirs=current, yours=label_of(current), base_version=version)
        if not can_undo(user=actor, adjudication=current):
            raise PermissionDenied("Only the author of this decision or an admin can undo it.")
        current.reverted = True
        current.save(update_fields=["reverted"])
        previous = current_adjudication(sample=locked)
        status = (
            Sample.Status.ADJUDICATED
            if previous
            else current.details.get("status_before", Sample.Status.DISPUTED)
        )
        locked.save(update_fields=set_status(locked, status))
        history.record_event(
            sample=locked,
            actor=actor,
            action=history.UNDO,
            before=history.adjudication_snapshot(current),
            after=history.adjudication_snapshot(previous),
        )
    sample.status = locked.status
    return previous
