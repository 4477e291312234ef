"""What an annotator reads about their own work (walkthrough 08_back1.png, 11_your_work.png):
"Decided by your answer" instead of "Adjudicated" when they answered alone (k = 1), the intro
naming the button the page shows, and a "Skipped" badge on a skipped row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review.labels import Label
from review.roles import ADJUDICATOR
from review.services.adjudication import adjudicate_sample
from review.services.assignment import lease_next_sample, skip_assignment
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def _status_badge(html: str) -> str:
    start = html.index('id="sample-status">') + len('id="sample-status">')
    return html[start : html.index("</span>", start)]


def _answer_next(annotator, *, emotion: str = "awe"):
    got = lease_next_sample(user=annotator)
    assert got is not None
    submit_answer(
        sample=got.sample, annotator=annotator, label=Label(emotion=emotion, confidence=6)
    )
    got.sample.refresh_from_db()
    return got.sample


def test_an_answer_alone_reads_decided_by_your_answer(client, annotator):
    SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    sample = _answer_next(annotator)
    assert sample.status == "adjudicated"
    client.force_login(annotator)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert _status_badge(html) == "decided by your answer"
    assert "badge status-adjudicated" in html  # the same colour as a decided sample


def test_once_an_adjudicator_decides_on_top_the_status_is_adjudicated(client, annotator):
    SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    sample = _answer_next(annotator)
    adjudicate_sample(
        sample=sample,
        annotator=member(ADJUDICATOR, username="judge"),
        label=Label(emotion="fear", confidence=7.0),
        base_version=1,
    )
    client.force_login(annotator)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert _status_badge(html) == "adjudicated"


def test_adjudicators_still_read_the_status(client, annotator, adjudicator):
    SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    sample = _answer_next(annotator)
    client.force_login(adjudicator)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert _status_badge(html) == "adjudicated"


def test_the_intro_names_the_button_the_page_shows(client, annotator):
    SampleFactory.create_batch(3, dataset=DatasetFactory.create(overlap_k=1))
    client.force_login(annotator)
    html = client.get(reverse("review:queue")).content.decode()
    assert "Start reviewing</a>" in html and "“Start reviewing” hands you" in html
    assert "“Continue”" not in html
    lease_next_sample(user=annotator)
    html = client.get(reverse("review:queue")).content.decode()
    assert "Continue</a>" in html and "“Continue” opens the sample you hold" in html
    assert "“Start reviewing”" not in html


def test_with_nothing_left_the_intro_names_no_button(client, annotator):
    SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    _answer_next(annotator)
    client.force_login(annotator)
    html = client.get(reverse("review:queue")).content.decode()
    assert 'id="start-annotating"' not in html
    assert "Nothing new is waiting for you now" in html and "“Start reviewing”" not in html


def test_a_skipped_row_says_skipped_next_to_take_back(client, annotator):
    SampleFactory.create_batch(2, dataset=DatasetFactory.create(overlap_k=1))
    got = lease_next_sample(user=annotator)
    assert got is not None
    skip_assignment(sample=got.sample, user=annotator)
    client.force_login(annotator)
    for url in (reverse("review:queue"), reverse("review:queue") + "?show=skipped"):
        html = client.get(url).content.decode()
        row = html[html.index(got.sample.external_id) :]
        row = row[: row.index("</tr>")]
        assert '<span class="badge skipped">skipped</span>' in row
        assert "Take back</button>" in row


def test_the_nav_names_the_page_its_link_opens(client, annotator):
    """An annotator's queue link opens "Your work" and says so; an adjudicator's, the queue."""
    client.force_login(annotator)
    html = client.get("/review/").content.decode()
    nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert ">Your work</a>" in nav and ">Queue</a>" not in nav
    client.force_login(member(ADJUDICATOR))
    html = client.get("/review/").content.decode()
    nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert ">Queue</a>" in nav and ">Your work</a>" not in nav
