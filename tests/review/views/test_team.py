"""Team review on the web: blind answers, the adjudicator's page, 409 conflicts, drafts,
skip, history and undo."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Sample
from review.models import Adjudication, Annotation, Assignment, Draft
from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import AdjudicationFactory, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    s = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2), external_id="team-1")
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe")
    return s


def _label(emotion, **extra):
    return {
        "emotion": emotion,
        "confidence": "7",
        "background": "",
        "attribute": "",
        "subject": "",
        "notes": "",
        **extra,
    }


def test_an_annotator_answers_blind(client, annotator, sample):
    other = member(ANNOTATOR, username="other-person")
    answer(sample, other, "fear", notes="secret note")
    lease(sample, annotator)
    client.force_login(annotator)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "Your answer" in html and reverse("review:answer", args=[sample.pk]) in html
    assert "other-person" not in html and "secret note" not in html
    assert reverse("review:history", args=[sample.pk]) not in html
    assert 'id="next-sample"' not in html  # no walking into samples that are not yours
    response = client.post(reverse("review:answer", args=[sample.pk]), _label("awe"))
    assert response.status_code == 302
    assert Annotation.objects.filter(sample=sample).count() == 2
    assert not Adjudication.objects.exists()  # awe vs fear: an adjudicator decides


def test_the_adjudicator_sees_every_answer_and_decides(client, adjudicator, sample):
    answer(sample, member(username="ana"), "awe", notes="wide plain")
    answer(sample, member(username="bea"), "fear")
    client.force_login(adjudicator)
    page = client.get(reverse("review:sample", args=[sample.pk]))
    html = page.content.decode()
    assert page.context["mode"] == "adjudicate"
    assert "ana" in html and "bea" in html and "wide plain" in html
    assert 'name="base_version" value="0"' in html
    response = client.post(
        reverse("review:adjudicate", args=[sample.pk]), _label("fear", base_version="0")
    )
    assert response.status_code == 302 and response.url == reverse("review:queue")
    decision = Adjudication.objects.get()
    assert (decision.method, decision.annotator) == ("adjudicator", adjudicator)


def test_a_stale_save_is_a_409_with_their_version_next_to_yours(client, adjudicator, sample):
    AdjudicationFactory.create(
        sample=sample, version=1, emotion="awe", annotator=member(username="first-judge")
    )
    client.force_login(adjudicator)
    url = reverse("review:adjudicate", args=[sample.pk])
    htmx = client.post(url, _label("fear", base_version="0"), headers={"HX-Request": "true"})
    assert htmx.status_code == 409
    html = htmx.content.decode()
    assert "<html" not in html and "Someone else changed this label" in html
    assert "first-judge" in html and 'class="theirs">awe' in html and 'class="yours">fear' in html
    assert 'name="base_version" value="1"' in html  # "save mine over theirs" builds on theirs
    plain = client.post(url, _label("fear", base_version="0"))
    assert plain.status_code == 409 and b"<html" in plain.content
    assert Adjudication.objects.count() == 1
    assert client.post(url, _label("fear", base_version="1")).status_code == 302
    assert Adjudication.objects.filter(version=2, emotion="fear").exists()


def test_keep_theirs_drops_the_stale_draft(client, adjudicator, sample):
    AdjudicationFactory.create(sample=sample, version=1, emotion="awe")
    client.force_login(adjudicator)
    draft_url = reverse("review:draft", args=[sample.pk])
    client.post(draft_url, {**_label("fear"), "base_version": "0"})
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "The label changed since (now version 1)" in page
    conflict = client.post(
        reverse("review:adjudicate", args=[sample.pk]),
        _label("fear", base_version="0"),
        headers={"HX-Request": "true"},
    )
    assert 'name="discard"' in conflict.content.decode()
    response = client.post(draft_url, {"discard": "1"})
    assert response.url == reverse("review:sample", args=[sample.pk])
    assert not Draft.objects.exists()


def test_drafts_autosave_and_come_back_when_the_page_opens(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:sample", args=[sample.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="change delay:800ms"' in html
    assert f'hx-post="{reverse("review:draft", args=[sample.pk])}"' in html
    saved = client.post(
        reverse("review:draft", args=[sample.pk]),
        {**_label("sadness"), "notes": "half done", "base_version": "0"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and b"Draft saved" in saved.content
    again = client.get(url)
    assert again.context["form"].initial["emotion"] == "sadness"
    assert "half done" in again.content.decode() and "Draft restored" in again.content.decode()
    client.post(reverse("review:answer", args=[sample.pk]), _label("sadness"))
    assert not Draft.objects.exists()  # an answer replaces the draft


def test_skip_hands_the_next_lease(client, annotator, sample):
    following = SampleFactory.create(dataset=sample.dataset)
    lease(sample, annotator)
    client.force_login(annotator)
    response = client.post(reverse("review:skip", args=[sample.pk]))
    assert response.url == reverse("review:sample", args=[following.pk])
    assert Assignment.objects.get(sample=sample).status == Assignment.Status.SKIPPED
    assert client.get(reverse("review:sample", args=[sample.pk])).status_code == 200  # seen
    assert client.post(reverse("review:answer", args=[sample.pk]), _label("awe")).status_code == 403


def test_history_lists_changes_and_the_author_undoes(client, sample):
    judge = member(ADJUDICATOR, username="judge")
    client.force_login(judge)
    url = reverse("review:adjudicate", args=[sample.pk])
    client.post(url, _label("awe", base_version="0"))
    client.post(url, _label("fear", base_version="1"))
    history = client.get(reverse("review:history", args=[sample.pk]))
    html = history.content.decode()
    assert history.status_code == 200 and html.count('class="event action-decide"') == 2
    assert "Undo version 2" in html
    undone = client.post(reverse("review:undo", args=[sample.pk]), {"version": "2"}, follow=True)
    assert "version 1 (awe) is current again" in undone.content.decode()
    assert Adjudication.objects.get(version=2).reverted
    html = client.get(reverse("review:history", args=[sample.pk])).content.decode()
    assert 'class="event action-undo"' in html and "undone" in html


def test_binary_questions_on_the_page(client, annotator):
    ds = DatasetFactory.create(binary_protocol={"second_when": "yes", "third_when": "split"})
    sample = SampleFactory.create(dataset=ds, suggested_emotion="awe")
    lease(sample, annotator)
    client.force_login(annotator)
    page = client.get(reverse("review:sample", args=[sample.pk]))
    assert page.context["mode"] == "binary" and b'name="vote_awe"' in page.content
    response = client.post(reverse("review:answer", args=[sample.pk]), {"vote_awe": "no"})
    assert response.status_code == 302
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DISPUTED  # "no" to the only question: adjudicator


def test_the_decision_form_keeps_only_the_adjudicators_own_notes(client, adjudicator, sample):
    """Starting from the current label, the form leaves out notes someone else wrote (saving
    would sign them as the adjudicator's); they are shown beside it instead."""
    writer = member(ANNOTATOR, username="writer")
    AdjudicationFactory.create(
        sample=sample, annotator=writer, emotion="awe", notes="theirs", version=1
    )
    client.force_login(adjudicator)
    page = client.get(reverse("review:sample", args=[sample.pk]))
    form = page.context["form"]
    assert form.initial["emotion"] == "awe" and form.initial["notes"] == ""
    # Still read beside the form, as the writer's.
    assert "Notes on version 1, by writer: theirs" in page.content.decode()
    AdjudicationFactory.create(
        sample=sample, annotator=adjudicator, emotion="fear", notes="mine", version=2
    )
    page = client.get(reverse("review:sample", args=[sample.pk]))
    assert page.context["form"].initial["notes"] == "mine"
    assert page.context["form"].initial["emotion"] == "fear"
    assert "Notes on version" not in page.content.decode()
