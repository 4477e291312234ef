"""adjudicate_sample: validation, the write, and all-or-nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Sample, Taxonomy
from review.labels import Label
from review.models import Adjudication
from review.services.adjudication import adjudicate_sample
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db


def _decide(sample, user, *, time_spent_ms=0, **overrides):
    fields: dict[str, Any] = {
        "emotion": "awe",
        "confidence": 8.0,
        "background": " snow-covered plain ",
        "attribute": "vast",
        "subject": "person",
    }
    fields.update(overrides)
    return adjudicate_sample(
        sample=sample, annotator=user, label=Label(**fields), time_spent_ms=time_spent_ms
    )


def test_stores_the_decision_and_marks_the_sample_adjudicated(user):
    sample = SampleFactory.create()
    decision = _decide(sample, user, notes="clear case", time_spent_ms=1234)
    decision.refresh_from_db()
    assert (decision.emotion, decision.confidence, decision.background) == (
        "awe",
        8.0,
        "snow-covered plain",
    )
    assert decision.annotator == user and decision.notes == "clear case"
    assert decision.time_spent_ms == 1234
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    assert sample.status == Sample.Status.ADJUDICATED


def test_emotion_is_matched_to_the_taxonomy_spelling(user):
    decision = _decide(SampleFactory.create(), user, emotion=" Sadness ")
    assert decision.emotion == "sadness"


def test_emotion_must_belong_to_the_datasets_own_taxonomy(user):
    faces = Taxonomy.objects.create(name="faces", labels=["joy", "anger"])
    sample = SampleFactory.create(dataset=DatasetFactory.create(taxonomy=faces))
    with pytest.raises(ValidationError) as info:
        _decide(sample, user, emotion="awe")  # a Mikels label, not in this taxonomy
    assert "emotion" in info.value.message_dict
    assert _decide(sample, user, emotion="joy").emotion == "joy"


@pytest.mark.parametrize("confidence", [-0.1, 10.01, float("nan"), float("inf")])
def test_confidence_outside_0_to_10_is_refused_and_nothing_written(user, confidence):
    sample = SampleFactory.create()
    with pytest.raises(ValidationError) as info:
        _decide(sample, user, confidence=confidence)
    assert "confidence" in info.value.message_dict
    assert not Adjudication.objects.exists()
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.DISPUTED


@pytest.mark.parametrize("confidence", [0.0, 10.0])
def test_confidence_bounds_are_inclusive(user, confidence):
    assert _decide(SampleFactory.create(), user, confidence=confidence).confidence == confidence


def test_errors_for_several_fields_come_together(user):
    with pytest.raises(ValidationError) as info:
        _decide(SampleFactory.create(), user, emotion="joy", confidence=42, time_spent_ms=-5)
    assert set(info.value.message_dict) == {"emotion", "confidence", "time_spent_ms"}


def test_notes_over_the_limit_are_refused_by_name(user):
    sample = SampleFactory.create()
    with pytest.raises(ValidationError) as info:
        _decide(sample, user, notes="n" * 2001)
    assert info.value.message_dict == {
        "notes": ["Notes are at most 2000 characters (these are 2001)."]
    }
    assert not Adjudication.objects.exists()
    assert len(_decide(sample, user, notes=" " + "n" * 2000 + " ").notes) == 2000


def test_a_failed_status_update_rolls_the_adjudication_back(user, monkeypatch):
    sample = SampleFactory.create()

    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sample, "save", broken_save)
    with pytest.raises(RuntimeError):
        _decide(sample, user)
    assert not Adjudication.objects.exists()


def test_very_long_time_spent_is_capped_to_the_column(user):
    decision = _decide(SampleFactory.create(), user, time_spent_ms=10**12)
    decision.refresh_from_db()
    assert decision.time_spent_ms == 2_147_483_647
