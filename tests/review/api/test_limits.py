"""The API holds the same bounds as the form: notes over the limit are a 400 naming the field."""

from __future__ import annotations

import pytest

from review.models import Adjudication
from review.roles import ADJUDICATOR
from tests.factories import SampleFactory
from tests.review.api.test_views import _client
from tests.review.team import member

pytestmark = pytest.mark.django_db


def test_notes_over_the_limit_are_400_naming_notes():
    sample = SampleFactory.create()
    api = _client(member(ADJUDICATOR))
    url = f"/api/samples/{sample.pk}/adjudication/"
    label = {"emotion": "awe", "confidence": 7, "base_version": 0}
    response = api.post(url, {**label, "notes": "x" * 2001}, format="json")
    assert response.status_code == 400
    assert response.json() == {"notes": ["Notes are at most 2000 characters."]}
    assert not Adjudication.objects.exists()
    saved = api.post(url, {**label, "notes": "x" * 2000}, format="json")
    assert saved.status_code == 201 and len(saved.json()["notes"]) == 2000
