"""The sample page's consensus panel and its raters' pulls: shown by the page's blind rules."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from review.models import Annotation, BlindAnswer
from review.models_consensus import SamplePosterior
from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.consensus_rows import finished_fit, posterior, rater
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db

PANEL = 'id="posterior"'
LINE = "awe 0.71 · contentment 0.22 · fear 0.05 · sadness 0.02 · {n} others < 0.01"


@pytest.fixture
def sample():
    dataset = DatasetFactory.create(overlap_k=2)
    s = SampleFactory.create(dataset=dataset, suggested_emotion="awe")
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe")
    ProposalFactory.create(sample=s, model_name="qwen-vl", emotion="contentment")
    return s


@pytest.fixture
def other(sample):
    person = member(ANNOTATOR, username="olga")
    answer(sample, person, "fear")
    return person


@pytest.fixture
def fit(sample, other):
    raters = {
        "model:gpt-4o": rater("model", "gpt-4o", 0.8),
        "model:qwen-vl": rater("model", "qwen-vl", 0.6),
        f"person:{other.pk}": rater("person", "olga", 0.9),
    }
    made = finished_fit(sample.dataset, raters)
    posterior(sample, made, {"awe": 0.71, "contentment": 0.22, "fear": 0.05, "sadness": 0.02})
    return made


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _page(client, sample):
    return client.get(reverse("review:sample", args=[sample.pk]))


def _pulls(client, sample, **headers):
    return client.get(reverse("review:sample_consensus", args=[sample.pk]), **headers)


def test_an_adjudicator_sees_the_posterior_line_and_everyone_s_pulls(client, sample, fit):
    client.force_login(member(ADJUDICATOR))
    page = _page(client, sample)
    html = _text(page)
    entropy = SamplePosterior.objects.get(sample=sample).entropy
    assert PANEL in html and f"entropy {entropy:.2f} bits · 3 ratings · Dawid-Skene fit" in html
    top = [label for label, _ in page.context["posterior_top"]]
    assert top == ["awe", "contentment", "fear", "sadness"]
    pulls = _text(_pulls(client, sample, HTTP_HX_REQUEST="true"))
    assert "gpt-4o" in pulls and "qwen-vl" in pulls and "olga" in pulls
    assert "other person" not in pulls


def test_the_panel_reads_as_the_issue_writes_it(client, sample, fit):
    client.force_login(member(ADJUDICATOR))
    html = _page(client, sample).content.decode()
    start = html.index('<p class="posterior-top">')
    line = html[start : html.index("</p>", start)]
    plain = unescape(" ".join(re.sub(r"<[^>]+>", "", line).split()))
    others = len(sample.dataset.taxonomy.labels) - 4
    assert others > 0 and plain == LINE.format(n=others), plain


def test_labels_that_round_to_zero_are_counted_not_listed(client, sample):
    client.force_login(member(ADJUDICATOR))
    made = finished_fit(sample.dataset, {"model:gpt-4o": rater("model", "gpt-4o", 0.8)})
    posterior(sample, made, {"awe": 0.586, "sadness": 0.41, "fear": 0.004})
    html = _page(client, sample).content.decode()
    start = html.index('<p class="posterior-top">')
    plain = unescape(
        " ".join(re.sub(r"<[^>]+>", "", html[start : html.index("</p>", start)]).split())
    )
    others = len(sample.dataset.taxonomy.labels) - 2
    assert plain == f"awe 0.59 · sadness 0.41 · {others} others < 0.01", plain
    pulls = _text(_pulls(client, sample, HTTP_HX_REQUEST="true"))
    assert "gpt-4o" in pulls and "0.00" not in pulls


def test_blind_review_hides_the_panel_and_its_fragment_until_the_person_answers(
    client, sample, fit, annotator
):
    lease(sample, annotator)
    client.force_login(annotator)
    page = _page(client, sample)
    assert PANEL not in page.content.decode() and page.context["show_posterior"] is False
    assert _pulls(client, sample).status_code == 403
    Annotation.objects.create(sample=sample, annotator=annotator, emotion="awe", confidence=7)
    html = _text(_page(client, sample))
    assert PANEL in html and "0.71" in html
    pulls = _text(_pulls(client, sample, HTTP_HX_REQUEST="true"))
    # The machines' pulls, not the other person's answer: one other person counts too.
    assert "gpt-4o" in pulls and "olga" not in pulls and "1 other person" in pulls


def test_machine_blind_hides_it_like_the_proposals(client, sample, fit, annotator):
    sample.dataset.machine_blind = True
    sample.dataset.save()
    lease(sample, annotator)
    client.force_login(annotator)
    assert PANEL not in _page(client, sample).content.decode()
    BlindAnswer.objects.create(
        sample=sample, annotator=annotator, emotion="fear", confidence=5, suggested_emotion="awe"
    )
    html = _page(client, sample).content.decode()
    assert "Model proposals" in html and PANEL not in html  # revealed machines, still blind


def test_a_sample_without_a_fit_says_so(client, sample):
    client.force_login(member(ADJUDICATOR))
    html = _page(client, sample).content.decode()
    assert PANEL in html and "No consensus fit yet" in html


def test_the_pulls_open_as_a_page_without_javascript(client, sample, fit):
    client.force_login(member(ADJUDICATOR))
    response = _pulls(client, sample)
    html = _text(response)
    assert response.status_code == 200 and "<html" in html and "Consensus on" in html
    assert "olga" in html and "fear" in html


def test_the_panel_costs_one_query_without_the_raters(client, sample, fit):
    client.force_login(member(ADJUDICATOR))
    with CaptureQueriesContext(connection) as queries:
        _page(client, sample)
    posterior_reads = [q for q in queries.captured_queries if "samplepost" in q["sql"].lower()]
    assert len(posterior_reads) == 1
    assert '"raters"' not in posterior_reads[0]["sql"]  # every rater's confusion: not needed


def test_an_answer_given_after_the_fit_is_said_to_count_from_the_next_refit(client, sample, fit):
    """The walkthrough answered, became the final label, and the panel went on showing the
    older fit's line as if it knew the answer."""
    client.force_login(member(ADJUDICATOR))
    assert "Answered since this fit" not in _text(_page(client, sample))
    answer(sample, member(ANNOTATOR, username="pia"), "awe")
    assert "Answered since this fit: the answers given after it count from the next refit." in (
        _text(_page(client, sample))
    )
