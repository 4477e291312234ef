"""The mask panel with an empty result: it says so, "Accept mask" is off, and a score shows
only when it means something (GrabCut's click agreement at 1.0, by construction, does not)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from annotator.lib.rle import NEAR_EMPTY_SHARE, encode_mask
from review.pages.mask_overlays import mask_reading, state_overlays
from review.selectors.masks import mask_state
from tests.factories_review import MaskEditFactory
from tests.support.masks import make_annotator, make_scene_sample

pytestmark = pytest.mark.django_db

EMPTY_TEXT = "The mask came out empty: click inside the region, or drag a tighter box."


@pytest.fixture
def sample(images_root):
    return make_scene_sample(images_root)


@pytest.fixture
def person(client, sample):
    user = make_annotator(sample)
    client.force_login(user)
    return user


def _mask(sample, pixels: int) -> np.ndarray:
    mask = np.zeros((sample.height, sample.width), dtype=bool)
    mask.flat[:pixels] = True
    return mask


def _done_edit(sample, person, *, pixels, score=1.0, segmenter="grabcut", points=(), box=None):
    rle = encode_mask(_mask(sample, pixels))
    return MaskEditFactory.create(
        sample=sample,
        author=person,
        role="subject",
        status="done",
        segmenter=segmenter,
        points=[list(p) for p in points],
        box=box,
        candidates=[{"rle": rle, "score": score}],
    )


def _subject_panel(client, sample) -> str:
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    found = re.search(r'<section id="mask-state-subject".*?</section>', page, re.S)
    assert found is not None
    return found.group(0)


def _accept_button(panel: str) -> str:
    found = re.search(r"<button[^>]*>Accept mask</button>", panel)
    assert found is not None
    return found.group(0)


def test_an_empty_box_mask_says_so_offers_no_accept_and_no_score(client, person, sample):
    _done_edit(sample, person, pixels=0, box=[2, 2, 60, 50])
    panel = _subject_panel(client, sample)
    assert EMPTY_TEXT in panel
    assert "disabled" in _accept_button(panel)
    assert "score" not in re.sub(r'title="[^"]*"', "", panel)  # no "score 1.00"
    assert 'segmented by <strong class="mask-segmenter">grabcut</strong>' in panel


def test_a_nearly_empty_mask_is_empty_too_and_says_how_many_pixels(client, person, sample):
    speck = int(NEAR_EMPTY_SHARE * sample.width * sample.height) - 1
    assert speck > 1
    _done_edit(sample, person, pixels=speck, points=[(3, 0, 1)])
    panel = _subject_panel(client, sample)
    assert f"The mask came out nearly empty ({speck} pixels): click inside" in panel
    assert "disabled" in _accept_button(panel)
    assert "score 1.00" not in panel


def test_a_real_grabcut_mask_from_a_box_shows_no_score_but_can_be_accepted(client, person, sample):
    _done_edit(sample, person, pixels=5000, box=[0, 0, 100, 100])
    panel = _subject_panel(client, sample)
    assert "came out" not in panel
    assert "disabled" not in _accept_button(panel)
    assert "score 1.00" not in panel  # 1.0 by definition without clicks: says nothing


def test_scores_that_mean_something_are_shown(client, person, sample):
    # GrabCut with clicks that all hold: 1.0 by construction, not shown.
    edit = _done_edit(sample, person, pixels=5000, points=[(10, 10, 1)])
    assert "score" not in re.sub(r'title="[^"]*"', "", _subject_panel(client, sample))
    # GrabCut with clicks at odds: the share of them the mask obeys.
    edit.delete()
    edit = _done_edit(sample, person, pixels=5000, score=0.5, points=[(10, 10, 1), (10, 10, 0)])
    assert "score 0.50" in _subject_panel(client, sample)
    # SAM's predicted IoU, from a box alone.
    edit.delete()
    _done_edit(sample, person, pixels=5000, score=0.87, segmenter="sam-vit_b", box=[0, 0, 99, 99])
    assert "score 0.87" in _subject_panel(client, sample)


def test_the_reading_comes_from_the_stored_rle_and_a_reader_gets_no_editing_hint(person, sample):
    _done_edit(sample, person, pixels=0, box=[2, 2, 60, 50])
    state = mask_state(sample=sample, role="subject", author_id=person.pk)
    reading = mask_reading(state)
    assert reading is not None
    assert (reading.area, reading.empty, reading.score) == (0, True, None)
    assert state.shown is not None and state.shown.candidates[0]["score"] == 1.0  # kept as given
    context = {"sample": sample, "state": state, "overlays": state_overlays(state)}
    html = render_to_string("review/_mask_state.html", {**context, "can_edit": False})
    assert "The mask came out empty." in html and "tighter box" not in html


@pytest.mark.parametrize("pixels", [0, 3])
def test_a_plain_post_cannot_accept_an_empty_mask(client, person, sample, pixels):
    """The page greys Accept out; the server refuses the same (409) and accepts nothing."""
    edit = _done_edit(sample, person, pixels=pixels, box=[2, 2, 60, 50])
    url = reverse("review:mask_accept", args=[sample.pk, "subject"])
    response = client.post(url)
    assert response.status_code == 409
    assert "an empty mask cannot be accepted" in response.content.decode()
    edit.refresh_from_db()
    assert edit.accepted_at is None
    _done_edit(sample, person, pixels=4000)  # a real mask on top: accepted
    assert client.post(url).status_code in (200, 302)
