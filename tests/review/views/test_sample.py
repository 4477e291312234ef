"""The sample page, its image and an annotator's answer POST (plain and htmx), with k = 1:
one person decides directly (method person), as in the issue-2 flow."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.models import Region, Sample
from review.models import Adjudication, Assignment
from tests.factories import (
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.team import lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def ds(images_root):
    return DatasetFactory.create(
        images_root=str(images_root), model_weights={"gemini": 2.0}, overlap_k=1
    )


@pytest.fixture
def sample(ds):
    return SampleFactory.create(dataset=ds, image_path="a.jpg", width=64, height=48)


@pytest.fixture
def user(annotator, sample):
    """An annotator holding a lease on `sample` (as "Next" hands out)."""
    lease(sample, annotator)
    return annotator


def _post(sample, **overrides):
    data = {
        "emotion": "fear",
        "confidence": "6.5",
        "background": "dark alley",
        "attribute": "shadowy",
        "subject": "figure",
        "notes": "",
        "time_spent_ms": "4200",
    }
    data.update(overrides)
    return reverse("review:answer", args=[sample.pk]), data


def test_every_sample_url_requires_login(client, sample):
    for name in (
        "review:sample",
        "review:sample_image",
        "review:adjudicate",
        "review:answer",
        "review:skip",
        "review:draft",
        "review:history",
        "review:undo",
    ):
        response = client.get(reverse(name, args=[sample.pk]))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_page_draws_each_box_in_image_pixels_with_its_role(client, user, sample):
    RegionFactory.create(
        sample=sample, role=Region.Role.BACKGROUND, phrase="plain", x1=0, y1=0, x2=64, y2=48
    )
    RegionFactory.create(
        sample=sample, role=Region.Role.SUBJECT, phrase="person", x1=40, y1=30, x2=10, y2=6
    )
    RegionFactory.create(
        sample=sample, role=Region.Role.ATTRIBUTE, x1=None, y1=None, x2=None, y2=None
    )
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert 'viewBox="0 0 64 48"' in html
    edges = re.findall(
        r'<g class="box role-(\w+)".*?<rect class="edge" x="([\d.]+)" y="([\d.]+)" '
        r'width="([\d.]+)" height="([\d.]+)"',
        html,
        re.S,
    )
    # Background first (drawn under), corners normalised; the box-less attribute is not drawn.
    assert edges == [
        ("background", "0.0", "0.0", "64.0", "48.0"),
        ("subject", "10.0", "6.0", "30.0", "24.0"),
    ]
    assert "person" in html and "no box" in html  # legend: phrase per role, attribute missing
    assert reverse("review:sample_image", args=[sample.pk]) in html


def test_the_legend_names_a_shared_phrase_once_with_its_boxes(client, user, sample):
    for x in (0, 30):
        RegionFactory.create(
            sample=sample, role=Region.Role.SUBJECT, phrase="rocket", x1=x, y1=0, x2=x + 9, y2=9
        )
    RegionFactory.create(sample=sample, role=Region.Role.SUBJECT, phrase="moon")
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    phrases = re.search(r'role-subject">.*?legend-phrase">([^<]*)<', html, re.S)
    assert phrases and phrases[1] == "rocket (2 boxes), moon"


def test_page_shows_proposals_side_by_side_with_differences_marked(client, user, sample):
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe", confidence=7.0)
    ProposalFactory.create(sample=sample, model_name="gemini", emotion="fear", confidence=7.0)
    ProposalFactory.create(sample=sample, model_name="qwen", emotion="awe", confidence=7.0)
    client.force_login(user)
    response = client.get(reverse("review:sample", args=[sample.pk]))
    rows = {row.field: row for row in response.context["comparison"]}
    assert [name for name, _ in response.context["models"]] == ["gemini", "gpt-4o", "qwen"]
    assert rows["emotion"].differs and [c.differs for c in rows["emotion"].cells] == [
        True,
        False,
        False,
    ]
    assert not rows["confidence"].differs and not rows["subject"].differs
    html = response.content.decode()
    assert html.count('class="differs"') == 1
    assert "weight 2" in html  # gemini's weight from the dataset


def test_page_shows_latest_critic_verdict_reasons_and_vote(client, user, sample):
    sample.vote_margin = 0.25
    sample.dispute_reasons = [{"type": "label_mismatch", "models": {"a": "awe", "b": "fear"}}]
    sample.save()
    CriticVerdictFactory.create(sample=sample, verdict="preserve", reasoning="Old reasoning.")
    CriticVerdictFactory.create(
        sample=sample,
        verdict="revise",
        emotion="fear",
        reasoning="The gaze is fearful.",
        instructions="Re-describe the subject's face.",
    )
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "The gaze is fearful." in html and "Old reasoning." not in html
    assert "verdict-revise" in html and "Re-describe the subject" in html
    assert "Label mismatch: a → awe, b → fear" in html and "0.25" in html


def test_critic_checks_not_given_say_so(client, user, sample):
    checks = {
        "emotion_consistent": True,
        "triplet_grounded": None,
        "box_matches_subject": False,
        "confidence_plausible": None,
    }
    CriticVerdictFactory.create(sample=sample, checks=checks)
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    panel = html[
        html.index("critic-checks") : html.index("</section>", html.index("critic-checks"))
    ]
    answers = re.findall(r"<dt>(\w+)</dt><dd>(.*?)</dd>", panel)
    assert answers == [
        ("emotion_consistent", "yes"),
        ("triplet_grounded", '<span class="muted">not given</span>'),
        ("box_matches_subject", "no"),
        ("confidence_plausible", '<span class="muted">not given</span>'),
    ]


def test_an_imported_verdict_without_checks_shows_no_checks_heading(client, user, sample):
    """An imported verdict keeps only its origin in `checks`: no "Checks" over nothing."""
    CriticVerdictFactory.create(sample=sample, checks={"origin": "import"}, reasoning="Because.")
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "Because." in html
    critic = html.split('id="critic-title"', 1)[1].split("</section>", 1)[0]
    assert "<h3>Checks</h3>" not in critic and "origin" not in critic


def test_form_is_prefilled_from_the_weighted_vote(client, user, sample):
    sample.suggested_emotion = "awe"
    sample.save()
    ProposalFactory.create(
        sample=sample, model_name="gpt-4o", emotion="awe", confidence=6.0, subject="man"
    )
    ProposalFactory.create(
        sample=sample, model_name="gemini", emotion="awe", confidence=9.0, subject="hiker"
    )
    ProposalFactory.create(
        sample=sample, model_name="qwen", emotion="fear", confidence=1.0, subject="x"
    )
    client.force_login(user)
    response = client.get(reverse("review:sample", args=[sample.pk]))
    initial = response.context["form"].initial
    assert initial["emotion"] == "awe" and initial["confidence"] == 7.5
    assert initial["subject"] == "hiker"  # gemini weighs 2.0
    html = response.content.decode()
    keyed = re.findall(
        r'data-emotion-key="(\d)">\s*<input type="radio" name="emotion" value="(\w+)"', html
    )
    assert keyed[:2] == [("1", "amusement"), ("2", "awe")] and len(keyed) == 8
    assert re.search(r'value="awe"[^>]*checked', html)


def test_a_tie_is_shown_as_a_tie_not_as_a_suggestion(client, user, sample):
    """On a tie the stored suggestion is only the first name in order: the form starts empty,
    and the vote card says the models tie instead of naming it."""
    sample.suggested_emotion, sample.vote_margin = "awe", 0.0
    sample.save()
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="qwen", emotion="fear")
    client.force_login(user)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    card = html[
        html.index('id="dispute-title"') : html.index(
            "</section>", html.index('id="dispute-title"')
        )
    ]
    assert "none: the models tie" in card and 'class="emotion">awe' not in card
    assert "The models tie: pick the emotion yourself." in html
    assert not re.search(r'name="emotion" value="\w+"[^>]*checked', html)


def test_navigation_links_for_keyboard(client, adjudicator, ds):
    a, b, c = (SampleFactory.create(dataset=ds) for _ in range(3))
    client.force_login(adjudicator)
    html = client.get(reverse("review:sample", args=[b.pk])).content.decode()
    assert f'id="next-sample" data-nav="next" class="button" href="/review/samples/{c.pk}/"' in html
    assert f'id="prev-sample" data-nav="prev" class="button" href="/review/samples/{a.pk}/"' in html


def test_plain_post_saves_and_redirects_to_the_next_disputed_sample(client, user, sample, ds):
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    following = SampleFactory.create(dataset=ds)
    client.force_login(user)
    url, data = _post(sample)
    response = client.post(url, data)
    assert response.status_code == 302
    assert response.url == reverse("review:sample", args=[following.pk])
    decision = Adjudication.objects.get(sample=sample)
    assert (decision.emotion, decision.confidence, decision.subject) == ("fear", 6.5, "figure")
    assert decision.annotator == user and decision.time_spent_ms == 4200
    assert (decision.method, decision.version) == (Adjudication.Method.PERSON, 1)
    sample.refresh_from_db()
    assert sample.status == Sample.Status.ADJUDICATED
    # The next page is the annotator's next lease.
    assert Assignment.objects.get(sample=following, annotator=user).status == "active"
    assert Assignment.objects.get(sample=sample, annotator=user).status == "submitted"


def test_htmx_post_answers_with_hx_redirect(client, user, sample, ds):
    following = SampleFactory.create(dataset=ds)
    client.force_login(user)
    url, data = _post(sample)
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("review:sample", args=[following.pk])
    assert Adjudication.objects.filter(sample=sample).count() == 1


def test_last_sample_goes_back_to_the_queue_with_queue_done(client, user, sample):
    client.force_login(user)
    url, data = _post(sample)
    response = client.post(url, data, follow=True)
    assert response.redirect_chain == [(reverse("review:queue"), 302)]
    assert "Queue done" in response.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11", "Confidence goes from 0 to 10: 10 is the most."),
        ("-1", "Confidence goes from 0 to 10: 0 is the least."),
        ("7.3", "Confidence goes in steps of 0.5 (7, 7.5, 8, …)."),
        ("lots", "Confidence is a number from 0 to 10, in steps of 0.5."),
    ],
)
def test_every_wrong_confidence_is_told_in_the_same_words(client, user, sample, value, message):
    client.force_login(user)
    url, data = _post(sample, confidence=value)
    response = client.post(url, data)
    assert response.context["form"].errors["confidence"] == [message]
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("emotion", "joy"), ("emotion", ""), ("confidence", "11"), ("confidence", "-1")],
)
def test_invalid_input_saves_nothing_and_shows_the_error(client, user, sample, field, value):
    client.force_login(user)
    url, data = _post(sample, **{field: value})
    plain = client.post(url, data)
    assert plain.status_code == 400
    assert b"Nothing was saved" in plain.content and b"<html" in plain.content
    assert field in plain.context["form"].errors
    htmx = client.post(url, data, headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and b"<html" not in htmx.content
    assert b'id="adjudication-form"' in htmx.content
    assert not Adjudication.objects.exists()
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DISPUTED


def test_emotion_outside_this_datasets_taxonomy_is_refused(client, user, sample):
    client.force_login(user)
    url, data = _post(sample, emotion="Fear")  # case matters in the form's choices
    assert client.post(url, data).status_code == 400
    assert not Adjudication.objects.exists()


def test_get_on_answer_is_not_allowed(client, user, sample):
    client.force_login(user)
    assert client.get(reverse("review:answer", args=[sample.pk])).status_code == 405


def test_image_view_streams_the_file(client, user, sample, images_root):
    client.force_login(user)
    response = client.get(reverse("review:sample_image", args=[sample.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == (images_root / "a.jpg").read_bytes()


@pytest.mark.parametrize(
    "image_path", ["../secret.jpg", "/etc/passwd", "missing.jpg", "sub/../../x"]
)
def test_image_view_refuses_escapes_and_missing_files(
    client, adjudicator, ds, images_root, image_path
):
    (images_root.parent / "secret.jpg").write_bytes(b"secret")
    sample = SampleFactory.create(dataset=ds, image_path=image_path)
    client.force_login(adjudicator)
    assert client.get(reverse("review:sample_image", args=[sample.pk])).status_code == 404


def test_image_view_refuses_symlinks_out_of_the_root(client, adjudicator, ds, images_root):
    (images_root.parent / "secret.jpg").write_bytes(b"secret")
    (images_root / "link.jpg").symlink_to(images_root.parent / "secret.jpg")
    sample = SampleFactory.create(dataset=ds, image_path="link.jpg")
    client.force_login(adjudicator)
    assert client.get(reverse("review:sample_image", args=[sample.pk])).status_code == 404


def test_unknown_sample_is_404(client, adjudicator):
    client.force_login(adjudicator)
    assert client.get(reverse("review:sample", args=[999999])).status_code == 404


@pytest.mark.parametrize("who", ["user", "adjudicator"])
def test_sample_page_queries_do_not_grow_with_proposals_and_regions(
    client, request, who, sample, django_assert_max_num_queries
):
    person = request.getfixturevalue(who)
    client.force_login(person)
    url = reverse("review:sample", args=[sample.pk])
    client.get(url)  # warm the session
    ProposalFactory.create(sample=sample)
    RegionFactory.create(sample=sample)
    CriticVerdictFactory.create(sample=sample)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    ProposalFactory.create_batch(5, sample=sample)
    RegionFactory.create_batch(5, sample=sample)
    CriticVerdictFactory.create_batch(2, sample=sample)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["boxes"]) == 6
    assert len(many) == len(few)
