"""Bounded and legible on the sample page: the notes counter, notes over the limit refused
(plain, htmx and the draft autosave), and a confidence prefill on the input's step."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from review.models import Adjudication, Draft
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample(annotator):
    ds = DatasetFactory.create(overlap_k=1)
    sample = SampleFactory.create(dataset=ds, suggested_emotion="awe")
    lease(sample, annotator)
    return sample


def _answer(**overrides: str) -> dict[str, str]:
    return {"emotion": "fear", "confidence": "6.5", "notes": "", **overrides}


def test_the_form_shows_a_notes_counter_and_the_limit(client, annotator, sample):
    client.force_login(annotator)
    html = client.get(reverse("review:sample", args=[sample.pk])).text
    assert re.search(r'<textarea name="notes"[^>]*maxlength="2000"', html)
    assert 'id="notes-counter" data-counter-for="id_notes">0 / 2000 characters<' in html
    assert "js/forms.js" in html


def test_notes_over_the_limit_save_nothing_and_name_the_field(client, annotator, sample):
    client.force_login(annotator)
    url = reverse("review:answer", args=[sample.pk])
    plain = client.post(url, _answer(notes="x" * 2001))
    assert plain.status_code == 400
    assert "Notes are at most 2000 characters (these are 2001)." in plain.text
    htmx = client.post(url, _answer(notes="x" * 2001), headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "these are 2001" in htmx.text
    assert not Adjudication.objects.exists()
    assert client.post(url, _answer(notes="x" * 2000)).status_code == 302
    assert len(Adjudication.objects.get().notes) == 2000


def test_a_draft_keeps_at_most_the_notes_a_save_accepts(client, annotator, sample):
    client.force_login(annotator)
    url = reverse("review:draft", args=[sample.pk])
    client.post(url, _answer(notes="y" * 100_000), headers={"HX-Request": "true"})
    assert Draft.objects.get().data["notes"] == "y" * 2000


def test_the_prefilled_mean_confidence_is_on_the_inputs_step(client, annotator, sample):
    for model, confidence in (("a", 7.0), ("b", 7.0), ("c", 8.0)):  # mean 7.33
        ProposalFactory.create(
            sample=sample, model_name=model, emotion="awe", confidence=confidence
        )
    client.force_login(annotator)
    html = client.get(reverse("review:sample", args=[sample.pk])).text
    field = re.search(r'<input type="number" name="confidence"[^>]*>', html)
    assert field is not None
    assert 'value="7.5"' in field[0] and 'step="0.5"' in field[0]
