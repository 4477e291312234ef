"""A person overrules the critic: a sample it dropped goes back into review.

A person's action, so it lives on the human side (annotator never imports review): the
verdict and the re-verification are the machine side's, the audit event is ours.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import CriticVerdict, Sample
from annotator.services.verification import verify_sample
from review.models import AuditEvent


def restore_dropped_sample(*, sample: Sample, user: Any) -> Sample:
    """Undo the critic's drop: a person's preserve verdict (so re-verification keeps it), then
    the status the models' vote gives; recorded in the sample's history."""
    with transaction.atomic():
        locked = Sample.objects.select_for_update().select_related("dataset__taxonomy")
        sample = locked.get(pk=sample.pk)
        if sample.status != Sample.Status.DROPPED:
            raise ValidationError(f"{sample.external_id} is {sample.status}, not dropped.")
        name = getattr(user, "username", "") or "someone"
        CriticVerdict.objects.create(
            sample=sample,
            model_name=f"{CriticVerdict.PERSON_PREFIX}{name}"[:100],
            verdict=CriticVerdict.Verdict.PRESERVE,
            reasoning=f"Restored by {name}: the critic's drop was overruled.",
            checks={"origin": "person", "restored_by": name},
            round=_latest_round(sample),
        )
        before = {"status": sample.status, "suggested_emotion": sample.suggested_emotion}
        result = verify_sample(sample=sample)
        AuditEvent.objects.create(
            sample=sample,
            actor=user if getattr(user, "is_authenticated", False) else None,
            action="restore_dropped",
            before=before,
            after={"status": result.status, "suggested_emotion": result.suggested_emotion},
        )
    return sample


def _latest_round(sample: Sample) -> int:
    rounds = sample.verdicts.order_by("-round").values_list("round", flat=True)
    return rounds.first() or 0
