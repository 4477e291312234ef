"""An adjudication, and its undo, move status_changed_at; a second version does not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotator.models import Sample
from review.labels import Label
from review.services.adjudication import adjudicate_sample, undo_last_decision
from tests.factories import SampleFactory

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=30)


def decide(sample: Sample, user: Any, version: int) -> None:
    adjudicate_sample(
        sample=Sample.objects.get(pk=sample.pk),  # as a request reads it
        annotator=user,
        label=Label(
            emotion="awe", confidence=8.0, background="plain", attribute="vast", subject="person"
        ),
        base_version=version,
    )


def changed_at(sample: Sample) -> datetime:
    changed = Sample.objects.values_list("status_changed_at", flat=True).get(pk=sample.pk)
    assert changed is not None
    return changed


def test_adjudication_and_undo_stamp_the_status_change(admin_user):
    sample = SampleFactory.create(status="disputed", status_changed_at=LONG_AGO)
    decide(sample, admin_user, 0)
    first = changed_at(sample)
    assert first > LONG_AGO
    Sample.objects.filter(pk=sample.pk).update(status_changed_at=LONG_AGO)
    decide(sample, admin_user, 1)  # adjudicated again: no status change
    assert changed_at(sample) == LONG_AGO
    undo_last_decision(
        sample=Sample.objects.get(pk=sample.pk), actor=admin_user, version=2
    )  # still adjudicated (v1)
    assert changed_at(sample) == LONG_AGO
    undo_last_decision(
        sample=Sample.objects.get(pk=sample.pk), actor=admin_user, version=1
    )  # back to disputed
    assert Sample.objects.get(pk=sample.pk).status == "disputed"
    assert changed_at(sample) > LONG_AGO
