"""The answer form says where its first values come from: the models' weighted vote, or
nothing when the models tie (a walkthrough found a three-way tie pre-set to "awe")."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import lease

pytestmark = pytest.mark.django_db


def _page(client, annotator, images_root, *, margin: float) -> str:
    ds = DatasetFactory.create(images_root=str(images_root), overlap_k=1)
    sample = SampleFactory.create(
        dataset=ds, image_path="a.jpg", width=64, height=48,
        suggested_emotion="awe", vote_margin=margin,
    )  # fmt: skip
    ProposalFactory.create(sample=sample, model_name="gemini", emotion="awe", confidence=6)
    ProposalFactory.create(sample=sample, model_name="gpt", emotion="fear", confidence=7)
    lease(sample, annotator)
    client.force_login(annotator)
    return client.get(reverse("review:sample", args=[sample.pk])).content.decode()


def _checked_emotions(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="emotion" value="(\w+)"[^>]* checked', html)


def test_a_vote_with_a_winner_fills_the_form_and_says_so(client, annotator, images_root):
    html = _page(client, annotator, images_root, margin=0.5)
    assert _checked_emotions(html) == ["awe"]
    assert "Filled in from the models&#x27; weighted vote" in html or (
        "Filled in from the models' weighted vote" in html
    )


def test_a_tie_leaves_the_emotion_to_the_person_and_says_why(client, annotator, images_root):
    html = _page(client, annotator, images_root, margin=0.0)
    assert _checked_emotions(html) == []
    assert "The models tie: pick the emotion yourself." in html
    assert "Filled in from the models" not in html
