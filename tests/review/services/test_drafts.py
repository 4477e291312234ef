"""Drafts: what a person typed and did not save yet, one per sample and author."""

from __future__ import annotations

import pytest

from review.models import Draft
from review.services.drafts import discard_draft, save_draft
from tests.factories import SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def test_drafts_keep_only_form_fields_and_replace_each_other():
    sample, person = SampleFactory.create(), member()
    save_draft(sample=sample, author=person, data={"emotion": "awe", "evil": "x"}, base_version=2)
    draft = save_draft(sample=sample, author=person, data={"emotion": "fear", "notes": "n"})
    assert Draft.objects.count() == 1
    assert draft.data == {"emotion": "fear", "notes": "n"} and draft.base_version == 0
    assert discard_draft(sample=sample, author=person)
    assert not discard_draft(sample=sample, author=person)
