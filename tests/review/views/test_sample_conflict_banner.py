"""After a 409 conflict the label banner above the form shows the version that won (walkthrough
48_conflict.png: the banner kept "version 1" while the conflict box said "now version 2")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review.labels import Label
from review.models import Adjudication
from review.roles import ADJUDICATOR
from review.services.adjudication import adjudicate_sample, undo_last_decision
from review.services.assignment import lease_next_sample
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def sample():
    s = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2), external_id="coins")
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe")
    return s


def _label(emotion: str, base_version: int) -> dict[str, str]:
    return {"emotion": emotion, "confidence": "5", "notes": "", "base_version": str(base_version)}


def _decide(sample, who, emotion: str, base: int) -> Adjudication:
    return adjudicate_sample(
        sample=sample,
        annotator=who,
        label=Label(emotion=emotion, confidence=5.0),
        base_version=base,
    )


def _banner(html: str) -> str:
    start = html.index('id="decision"')
    return html[start : html.index("</div>", start)]


def test_htmx_conflict_swaps_the_banner_to_the_version_that_won(client, adjudicator, sample):
    first = member(ADJUDICATOR, username="first-judge")
    _decide(sample, first, "sadness", 0)
    client.force_login(adjudicator)
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "version 1." in _banner(page)
    _decide(sample, first, "awe", 1)  # the other tab saved meanwhile
    response = client.post(
        reverse("review:adjudicate", args=[sample.pk]), _label("contentment", 1), headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 409 and "<html" not in html
    assert 'id="conflict"' in html
    banner = _banner(html)
    assert 'hx-swap-oob="true"' in banner
    assert "Decided <strong>awe</strong>" in banner and "version 2." in banner
    assert "version 1." not in html


def test_the_banner_slot_is_there_before_any_label_and_filled_by_the_conflict(
    client, adjudicator, sample
):
    client.force_login(adjudicator)
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert '<div id="decision" hidden></div>' in page  # no label yet: an empty slot
    _decide(sample, member(ADJUDICATOR, username="quick"), "fear", 0)
    response = client.post(
        reverse("review:adjudicate", args=[sample.pk]), _label("awe", 0), headers=HTMX
    )
    banner = _banner(response.content.decode())
    assert 'hx-swap-oob="true"' in banner and "Decided <strong>fear</strong>" in banner
    assert "by quick" in banner and "version 1." in banner


def test_a_conflict_with_an_undone_label_hides_the_banner(client, admin_user, sample):
    decision = _decide(sample, admin_user, "fear", 0)
    undo_last_decision(sample=sample, actor=admin_user, version=decision.version)
    client.force_login(admin_user)
    response = client.post(
        reverse("review:adjudicate", args=[sample.pk]), _label("awe", 1), headers=HTMX
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert '<div id="decision" hidden hx-swap-oob="true"></div>' in html
    assert "Decided" not in html


def test_the_plain_post_page_shows_the_version_that_won(client, adjudicator, sample):
    first = member(ADJUDICATOR, username="first-judge")
    _decide(sample, first, "sadness", 0)
    _decide(sample, first, "awe", 1)
    client.force_login(adjudicator)
    response = client.post(reverse("review:adjudicate", args=[sample.pk]), _label("fear", 1))
    html = response.content.decode()
    assert response.status_code == 409 and "<html" in html
    banner = _banner(html)
    assert "Decided <strong>awe</strong>" in banner and "version 2." in banner
    assert "hx-swap-oob" not in html  # a whole page: nothing to swap
    assert html.index('id="decision"') < html.index('id="conflict"')


def test_an_annotators_change_conflict_shows_no_banner(client, annotator):
    """Changing an answer is blind to the final label: the 409 carries no banner to swap."""
    ds = DatasetFactory.create(overlap_k=1)
    SampleFactory.create(dataset=ds)
    got = lease_next_sample(user=annotator)
    assert got is not None
    sample = got.sample
    submit_answer(sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=6.0))
    client.force_login(annotator)
    url = reverse("review:change_answer", args=[sample.pk])
    assert client.post(url, _label("fear", 1), headers=HTMX).status_code == 200
    stale = client.post(url, _label("anger", 1), headers=HTMX)
    assert stale.status_code == 409
    assert 'id="decision"' not in stale.content.decode()
