"""What the policy reads for the page and for a POST: the own answer once (kept on the
access for the page), and a POST's sample without its proposals and regions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from review import policy
from review.models import Assignment
from review.roles import ANNOTATOR
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    s = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    for name in ("qwen", "gemini", "gpt-4o"):  # created out of name order
        ProposalFactory.create(sample=s, model_name=name)
    return s


def test_the_access_keeps_the_persons_own_answer_and_no_one_elses(sample):
    person, other = member(ANNOTATOR), member(ANNOTATOR)
    lease(sample, other)
    given = answer(sample, person, "awe")
    assert policy.sample_access(user=person, sample=sample).own == given
    assert policy.sample_access(user=other, sample=sample).own is None


def test_a_posts_sample_comes_without_its_proposals_and_regions(sample):
    person = member(ANNOTATOR)
    lease(sample, person)
    got, access = policy.viewable_sample_to_answer(user=person, pk=sample.pk)
    assert access.answer
    assert "proposals" not in getattr(got, "_prefetched_objects_cache", {})
    with CaptureQueriesContext(connection) as reads:
        assert got.dataset.taxonomy.labels  # read with the sample
    assert len(reads) == 0
    with pytest.raises(Http404):
        policy.viewable_sample_to_answer(user=person, pk=sample.pk + 1000)


def test_an_invalid_answer_redraws_the_page_with_the_models_in_name_order(client, sample):
    person = member(ANNOTATOR)
    lease(sample, person)
    client.force_login(person)
    url = reverse("review:answer", args=[sample.pk])
    response = client.post(url, {"emotion": "not-an-emotion", "confidence": "7"})
    assert response.status_code == 400
    assert [name for name, _ in response.context["models"]] == ["gemini", "gpt-4o", "qwen"]


def test_an_answer_sent_again_from_another_tab_shows_the_saved_one(client, sample):
    person = member(ANNOTATOR)
    lease(sample, person)
    client.force_login(person)
    url = reverse("review:answer", args=[sample.pk])
    assert client.post(url, {"emotion": "awe", "confidence": "7"}).status_code == 302
    again = client.post(url, {"emotion": "fear", "confidence": "3"})
    assert again.status_code == 409
    assert again.context["theirs"].emotion == "awe"


def test_the_access_holds_the_persons_own_lease_with_its_moments(sample):
    person, other = member(ANNOTATOR), member(ANNOTATOR)
    held = lease(sample, person)
    lease(sample, other, status=Assignment.Status.SKIPPED)
    got = policy.sample_access(user=person, sample=sample).lease
    assert got == held
    assert got is not None and got.expires_at == held.expires_at  # a moment, not text
    assert policy.sample_access(user=other, sample=sample).skipped
    assert policy.sample_access(user=member(ANNOTATOR), sample=sample).lease is None
