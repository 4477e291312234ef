"""Writes a person's decision on a sample."""

from __future__ import annotations

import math

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from annotator.models import Sample
from annotator.taxonomy import normalise_label
from review.models import Adjudication

MAX_CONFIDENCE = 10.0
# PositiveIntegerField's ceiling (~24 days); a tab left open longer is capped, not refused.
MAX_TIME_SPENT_MS = 2_147_483_647


def adjudicate_sample(
    *,
    sample: Sample,
    annotator: User,
    emotion: str,
    confidence: float,
    background: str,
    attribute: str,
    subject: str,
    notes: str = "",
    time_spent_ms: int = 0,
) -> Adjudication:
    """Store the decision and mark the sample adjudicated, both or neither.

    Raises ValidationError (keyed by field) when the emotion is not in the dataset's taxonomy,
    the confidence is outside 0..10 or the time spent is negative.
    """
    labels = sample.dataset.taxonomy.labels
    label = normalise_label(emotion, labels)
    errors: dict[str, str] = {}
    if label is None:
        errors["emotion"] = f"{emotion!r} is not in the taxonomy ({', '.join(labels)})."
    if not (math.isfinite(confidence) and 0.0 <= confidence <= MAX_CONFIDENCE):
        errors["confidence"] = f"Confidence must be between 0 and 10, not {confidence}."
    if time_spent_ms < 0:
        errors["time_spent_ms"] = "Time spent cannot be negative."
    if errors or label is None:
        raise ValidationError(errors)
    with transaction.atomic():
        latest = Adjudication.objects.filter(sample=sample).aggregate(v=Max("version"))["v"]
        adjudication = Adjudication.objects.create(
            sample=sample,
            annotator=annotator,
            version=(latest or 0) + 1,
            emotion=label,
            confidence=confidence,
            background=background.strip(),
            attribute=attribute.strip(),
            subject=subject.strip(),
            notes=notes.strip(),
            time_spent_ms=min(time_spent_ms, MAX_TIME_SPENT_MS),
        )
        sample.status = Sample.Status.ADJUDICATED
        sample.save(update_fields=["status", "updated_at"])
    return adjudication
