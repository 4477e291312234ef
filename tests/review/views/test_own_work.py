"""An annotator's sample page: "2 of 3 · 1 today", J/K through their own work, changing an
answer until the label is final, undo that never hands their sample to an adjudicator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review.labels import Label
from review.models import Adjudication, Annotation, Draft
from review.roles import ADJUDICATOR
from review.services.adjudication import adjudicate_sample
from review.services.assignment import lease_next_sample
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def _url(sample) -> str:
    return reverse("review:sample", args=[sample.pk])


def _label(emotion, **extra):
    return {"emotion": emotion, "confidence": "7.5", "notes": "", **extra}


@pytest.fixture
def work(annotator):
    """Three samples (k = 1): the annotator answered the first two and holds the third."""
    ds = DatasetFactory.create(overlap_k=1)
    samples = SampleFactory.create_batch(4, dataset=ds)
    for emotion in ("awe", "fear"):
        got = lease_next_sample(user=annotator)
        assert got is not None
        submit_answer(
            sample=got.sample, annotator=annotator, label=Label(emotion=emotion, confidence=6.0)
        )
    lease_next_sample(user=annotator)
    return samples


def test_the_header_says_where_you_are_and_j_k_walk_your_work(client, annotator, work):
    first, second, current, _ = work
    client.force_login(annotator)
    html = client.get(_url(current)).content.decode()
    assert "<strong>3</strong> of 4 · 2 today" in html
    assert f'id="prev-sample" data-nav="prev" class="button" href="{_url(second)}"' in html
    assert 'id="next-sample"' not in html  # the sample in hand is the end of the work
    # app.js says J "saves or skips first" only on a sample still to answer (data-in-hand);
    # on an answered one (its answer open to change) it says no new sample waits.
    assert (
        'id="adjudication-form" class="card adjudicate" method="post" novalidate data-in-hand'
        in html
    )
    assert "data-in-hand" not in client.get(_url(second)).content.decode()
    html = client.get(_url(second)).content.decode()
    assert "<strong>2</strong> of 4" in html
    assert (
        f'href="{_url(first)}" rel="prev"' in html and f'href="{_url(current)}" rel="next"' in html
    )
    assert 'id="keys-help"' in html and "<kbd>?</kbd> all keys" in html


def test_a_skip_keeps_the_total_in_the_header_and_the_queue(client, annotator):
    """Six samples: two answered, one skipped: "3 of 6" stays "3 of 6", and the queue says
    "2 of 6 done · 3 to go · 1 skipped" (the walkthrough saw 3 of 5 and 2 of 5)."""
    ds = DatasetFactory.create(overlap_k=1)
    SampleFactory.create_batch(6, dataset=ds)
    client.force_login(annotator)
    for emotion in ("awe", "fear"):
        opened = client.get(reverse("review:next"), {"kind": "annotate"})
        answer_url = opened.url + "answer/"
        assert client.post(answer_url, _label(emotion, time_spent_ms="1000")).status_code == 302
    third = client.get(reverse("review:next"), {"kind": "annotate"}).url
    assert "<strong>3</strong> of 6 · 2 today" in client.get(third).content.decode()
    fourth = client.post(third + "skip/", follow=True)
    assert "<strong>3</strong> of 6 · 2 today" in fourth.content.decode()
    queue = client.get(reverse("review:queue")).content.decode()
    assert "<strong>2</strong> of 6 done · 3 to go" in queue and "1 skipped still open" in queue


def test_at_the_end_with_nothing_in_hand_j_asks_for_a_new_sample(client, annotator, work):
    _, _, current, _ = work
    submit_answer(sample=current, annotator=annotator, label=Label(emotion="awe", confidence=5.0))
    client.force_login(annotator)
    html = client.get(_url(current)).content.decode()
    assert f'href="{reverse("review:next")}?kind=annotate" rel="next">New sample' in html


def test_going_back_shows_the_answer_in_a_form_that_changes_it(client, annotator, work):
    first = work[0]
    client.force_login(annotator)
    response = client.get(_url(first))
    html = response.content.decode()
    assert response.context["mode"] == "change"
    assert "Change your answer" in html and "You can change it below" in html
    assert reverse("review:change_answer", args=[first.pk]) in html
    form = response.context["form"]
    assert (form.initial["emotion"], form.initial["base_version"]) == ("awe", 1)
    assert 'id="skip-form"' not in html
    # The draft autosave works while changing, as while answering.
    draft = client.post(reverse("review:draft", args=[first.pk]), _label("sadness"))
    assert draft.status_code == 302 and Draft.objects.filter(sample=first).exists()
    response = client.post(
        reverse("review:change_answer", args=[first.pk]), _label("sadness", base_version="1")
    )
    assert response.status_code == 302
    assert Annotation.objects.get(sample=first).emotion == "sadness"
    label = Adjudication.objects.get(sample=first, version=2)
    assert (label.emotion, label.method, label.annotator) == ("sadness", "person", annotator)
    assert not Draft.objects.filter(sample=first).exists()


def test_htmx_change_answers_with_hx_redirect_and_a_stale_page_gets_409(client, annotator, work):
    first = work[0]
    client.force_login(annotator)
    url = reverse("review:change_answer", args=[first.pk])
    saved = client.post(url, _label("anger", base_version="1"), headers={"HX-Request": "true"})
    assert saved.status_code == 200 and saved["HX-Redirect"]
    stale = client.post(url, _label("awe", base_version="1"), headers={"HX-Request": "true"})
    assert stale.status_code == 409
    assert Annotation.objects.get(sample=first).emotion == "anger"


def test_once_an_adjudicator_decides_the_answer_is_read_only(client, annotator, work):
    first = work[0]
    adjudicate_sample(
        sample=first,
        annotator=member(ADJUDICATOR),
        label=Label(emotion="anger", confidence=9.0),
        base_version=1,
    )
    client.force_login(annotator)
    response = client.get(_url(first))
    html = response.content.decode()
    assert response.context["mode"] == "read"
    assert "Undo this decision" not in html and "Change your answer" not in html
    post = client.post(reverse("review:change_answer", args=[first.pk]), _label("awe"))
    assert post.status_code == 403
    assert client.post(reverse("review:undo", args=[first.pk]), {"version": "2"}).status_code == 403
    assert Annotation.objects.get(sample=first).emotion == "awe"


def test_an_annotators_undo_never_hands_their_sample_to_an_adjudicator(client, annotator, work):
    first = work[0]
    client.force_login(annotator)
    assert "Undo this decision" not in client.get(_url(first)).content.decode()
    response = client.post(reverse("review:undo", args=[first.pk]), {"version": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == _url(first)
    assert "Nothing was undone: change your answer below instead" in response.content.decode()
    assert not Adjudication.objects.filter(sample=first, reverted=True).exists()


def test_the_sample_page_queries_do_not_grow_with_the_work(client, annotator, work, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # With a broker the page also picks samples to prefetch: one query while a lease is held,
    # two once none is (review.selectors.mask_prefetch.upcoming_sample_ids), whatever the
    # work's size.
    settings.MASK_BACKGROUND_TASKS = False
    client.force_login(annotator)

    def queries(sample) -> int:
        client.get(_url(sample))
        with CaptureQueriesContext(connection) as captured:
            client.get(_url(sample))
        return len(captured)

    few = queries(work[1])
    current = work[2]
    submit_answer(sample=current, annotator=annotator, label=Label(emotion="awe", confidence=5.0))
    SampleFactory.create_batch(6, dataset=current.dataset)
    while (got := lease_next_sample(user=annotator)) is not None:
        submit_answer(
            sample=got.sample, annotator=annotator, label=Label(emotion="awe", confidence=5.0)
        )
    # In hand again, as at first (a held disputed sample is weighed for room: one statement).
    SampleFactory.create(dataset=current.dataset)
    assert lease_next_sample(user=annotator) is not None
    assert queries(work[1]) == few


def test_a_read_only_answer_says_why_it_cannot_change(client, annotator, work):
    first = work[0]  # k = 1: the answer made version 1
    admin = member(ADJUDICATOR)
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    assert client.post(reverse("review:undo", args=[first.pk]), {"version": "1"}).status_code < 400
    client.force_login(annotator)
    response = client.get(_url(first))
    assert response.context["mode"] == "read"  # no form: it said only "Your answer: awe"
    html = response.content.decode()
    assert "Your answer: <strong>awe</strong>" in html
    assert "The label your answer made was undone: the sample waits for an adjudicator." in html
