"""Blind to machines on the sample page: hidden until a first answer, then shown; both kept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review.models import Annotation, BlindAnswer, Draft
from review.services.drafts import save_draft
from tests.factories import (
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.team import lease

pytestmark = pytest.mark.django_db

# What the machines said about the sample below; none of it may show before the commit.
MACHINE_TEXT = ["gpt-4o", "qwen-vl", "Model proposals", "Critic", "upward gaze", "Weighted vote"]


@pytest.fixture
def sample():
    dataset = DatasetFactory.create(overlap_k=1, machine_blind=True)
    s = SampleFactory.create(
        dataset=dataset,
        suggested_emotion="awe",
        dispute_reasons=[{"type": "label_mismatch", "labels": {"gpt-4o": "awe"}}],
    )
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe", subject="mountaineer")
    ProposalFactory.create(sample=s, model_name="qwen-vl", emotion="fear", confidence=6)
    RegionFactory.create(sample=s, phrase="mountaineer")
    CriticVerdictFactory.create(sample=s, reasoning="The upward gaze suggests awe.")
    return s


def _commit(**extra):
    return {"emotion": "fear", "confidence": "6", "background": "", "attribute": "",
            "subject": "", **extra}  # fmt: skip


def _page(client, sample):
    return client.get(reverse("review:sample", args=[sample.pk]))


def test_before_the_commit_the_page_shows_the_image_and_an_empty_form_only(
    client, annotator, sample
):
    lease(sample, annotator)
    client.force_login(annotator)
    page = _page(client, sample)
    html = page.content.decode()
    assert page.context["blind_pending"] is True
    assert all(text not in html for text in MACHINE_TEXT), [t for t in MACHINE_TEXT if t in html]
    assert "mountaineer" not in html  # no box label, no triplet prefill
    assert 'class="mask-panel"' not in html and '<svg class="overlay"' not in html
    assert reverse("review:sample_image", args=[sample.pk]) in html
    assert reverse("review:blind_commit", args=[sample.pk]) in html
    assert reverse("review:answer", args=[sample.pk]) not in html
    assert " checked" not in html  # no emotion picked for them
    form = page.context["form"]
    assert all(not form[name].value() for name in ("emotion", "confidence", "subject"))
    assert "Commit, then show the machines" in html


def test_the_commit_reveals_the_machines_and_the_form_starts_from_the_blind_answer(
    client, annotator, sample
):
    lease(sample, annotator)
    client.force_login(annotator)
    response = client.post(reverse("review:blind_commit", args=[sample.pk]), _commit())
    assert response.status_code == 302
    assert response.url == reverse("review:sample", args=[sample.pk])
    for _reload in range(2):  # the revealed state is kept on the server
        page = _page(client, sample)
        html = page.content.decode()
        assert "blind_pending" not in page.context
        assert all(text in html for text in MACHINE_TEXT)
        assert 'class="box-label' in html and "Your blind answer: <strong>fear</strong>" in html
        form = page.context["form"]
        assert (form["emotion"].value(), form["confidence"].value()) == ("fear", 6.0)
        assert form["subject"].value() == "mountaineer"  # left empty blind: the machines'
        assert reverse("review:answer", args=[sample.pk]) in html


def test_revising_after_the_reveal_keeps_both_answers(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    client.post(reverse("review:blind_commit", args=[sample.pk]), _commit())
    saved = client.post(
        reverse("review:answer", args=[sample.pk]),
        _commit(emotion="awe", confidence="8", notes="", base_version="0"),
    )
    assert saved.status_code == 302
    blind, final = BlindAnswer.objects.get(), Annotation.objects.get()
    assert (blind.emotion, blind.confidence) == ("fear", 6.0)
    assert (final.emotion, final.confidence) == ("awe", 8.0)
    sample.refresh_from_db()
    assert sample.status == "adjudicated"  # k = 1: the final answer is the label


def test_htmx_commit_redirects_the_whole_page_and_an_invalid_one_keeps_the_blind_form(
    client, annotator, sample
):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:blind_commit", args=[sample.pk])
    bad = client.post(url, _commit(emotion=""), headers={"HX-Request": "true"})
    html = bad.content.decode()
    assert bad.status_code == 422 and "<html" not in html
    assert "Pick an emotion." in html and f'hx-post="{url}"' in html
    assert all(text not in html for text in MACHINE_TEXT)
    good = client.post(url, _commit(), headers={"HX-Request": "true"})
    assert good.status_code == 200
    assert good["HX-Redirect"] == reverse("review:sample", args=[sample.pk])


def test_a_draft_typed_blind_comes_back_blind_without_prefill(client, annotator, sample):
    lease(sample, annotator)
    save_draft(sample=sample, author=annotator, data={"emotion": "sadness"})
    client.force_login(annotator)
    form = _page(client, sample).context["form"]
    assert form["emotion"].value() == "sadness" and not form["subject"].value()
    client.post(reverse("review:blind_commit", args=[sample.pk]), _commit(emotion="sadness"))
    assert not Draft.objects.exists()


def test_commit_needs_a_lease(client, annotator, sample):
    client.force_login(annotator)
    response = client.post(reverse("review:blind_commit", args=[sample.pk]), _commit())
    assert response.status_code == 403
    assert not BlindAnswer.objects.exists()


def test_adjudicators_and_auditors_see_the_machines_on_a_blind_dataset(
    client, adjudicator, auditor, sample
):
    for person in (adjudicator, auditor):
        client.force_login(person)
        html = _page(client, sample).content.decode()
        assert all(text in html for text in MACHINE_TEXT), person


def test_a_dataset_that_is_not_blind_prefills_as_before(client, annotator, sample):
    sample.dataset.machine_blind = False
    sample.dataset.save()
    lease(sample, annotator)
    client.force_login(annotator)
    page = _page(client, sample)
    assert "gpt-4o" in page.content.decode()
    assert page.context["form"]["emotion"].value() == "awe"


def test_a_plain_invalid_commit_shows_the_blind_page_with_its_errors(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:blind_commit", args=[sample.pk])
    response = client.post(url, _commit(confidence="11"))
    html = response.content.decode()
    assert response.status_code == 400 and "<html" in html
    assert "Nothing was committed" in html and f'action="{url}"' in html
    assert all(text not in html for text in MACHINE_TEXT)
    assert not BlindAnswer.objects.exists()
