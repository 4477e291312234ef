from __future__ import annotations

import numpy as np
import pytest

from annotator.adapters.segmenters import Prompt, score_is_informative
from tests.annotator.adapters.segmenters.scenes import ellipse_scene, iou

pytest.importorskip("cv2")

from annotator.adapters.segmenters.grabcut import GrabCutSegmenter


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_and_one_click_find_the_object(seed: int):
    image, truth, (x1, y1, x2, y2) = ellipse_scene(seed=seed)
    prompt = Prompt(points=[((x1 + x2) / 2, (y1 + y2) / 2)], labels=[1], box=(x1, y1, x2, y2))
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert candidate.mask.shape == truth.shape
    assert candidate.mask.dtype == bool
    assert iou(candidate.mask, truth) > 0.9
    assert candidate.score == 1.0  # the click lies inside the mask


def test_a_large_image_is_segmented_small_and_scaled_back():
    image, truth, box = ellipse_scene(seed=3, height=900, width=1200)
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=Prompt(box=box))
    assert candidate.mask.shape == (900, 1200)
    assert iou(candidate.mask, truth) > 0.9


def test_clicks_without_a_box_find_the_object():
    image, truth, (x1, y1, x2, y2) = ellipse_scene(seed=4)
    prompt = Prompt(points=[((x1 + x2) / 2, (y1 + y2) / 2), (5, 5)], labels=[1, 0])
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert iou(candidate.mask, truth) > 0.9


def test_a_remove_click_is_honoured_and_a_box_over_everything_still_works():
    image, truth, (x1, y1, x2, y2) = ellipse_scene(seed=5)
    height, width = truth.shape
    inside = (int((x1 + x2) / 2), int((y1 + y2) / 2))
    prompt = Prompt(points=[inside], labels=[0], box=(0, 0, width, height))
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert not candidate.mask[inside[1], inside[0]]
    assert candidate.score == 1.0


def test_a_few_pixel_image_gives_a_mask_not_an_error():
    image = np.zeros((3, 4, 3), dtype=np.uint8)
    (candidate,) = GrabCutSegmenter().segment(
        image=image, image_key="x", prompt=Prompt(points=[(1, 1)], labels=[1])
    )
    assert candidate.mask.shape == (3, 4)


def test_an_image_that_is_not_rgb_uint8_is_refused():
    with pytest.raises(ValueError, match="uint8 RGB"):
        GrabCutSegmenter().segment(
            image=np.zeros((8, 8, 3), dtype=np.float32),
            image_key="x",
            prompt=Prompt(points=[(1, 1)], labels=[1]),
        )


def _twin_squares() -> np.ndarray:
    """The subject, a bright square on noise, and a look-alike touching it on the right (the
    sign beside the rocket, the same colour)."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 60, size=(200, 200, 3), dtype=np.uint8)
    image[40:80, 40:80] = (230, 200, 40)
    image[40:80, 80:140] = (230, 200, 40)
    return image


def test_a_click_without_a_box_stays_in_the_elements_grounding_box():
    """A click alone pads a quarter of the image around it and takes in the look-alike next
    door; the element's grounding box keeps the mask on the subject."""
    image, click = _twin_squares(), [(60.0, 60.0)]
    (spilled,) = GrabCutSegmenter().segment(
        image=image, image_key="x", prompt=Prompt(points=click, labels=[1])
    )
    assert spilled.mask[60, 105]  # the twin's edge: spilled over without the hint
    (kept,) = GrabCutSegmenter().segment(
        image=image, image_key="x", prompt=Prompt(points=click, labels=[1], hint=(40, 40, 80, 80))
    )
    assert kept.mask[60, 60] and not kept.mask[60, 105]
    assert not kept.mask[:, 90:].any()  # the box (80) and its 2% pad (4 px) bound it


def test_an_add_click_outside_the_grounding_box_grows_the_region_to_take_it_in():
    image = _twin_squares()
    prompt = Prompt(points=[(60.0, 60.0), (120.0, 60.0)], labels=[1, 1], hint=(40, 40, 80, 80))
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert candidate.mask[60, 60] and candidate.mask[60, 120]


def test_a_box_inside_a_uniform_texture_comes_out_empty_and_its_score_says_nothing():
    """A box dragged inside the background (the demo's cat-fur corner): the colours inside are
    those outside, so GrabCut keeps nothing. Its score, the share of clicks obeyed, is 1.0 with
    no clicks, empty or not: the page must not read it as a quality estimate."""
    image, truth, _ = ellipse_scene(seed=6)
    box = (4.0, 4.0, 60.0, 50.0)  # the top-left corner, off the ellipse
    assert not truth[4:50, 4:60].any()
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=Prompt(box=box))
    assert candidate.mask.sum() == 0
    assert candidate.score == 1.0
    assert not score_is_informative(segmenter=GrabCutSegmenter.name, clicks=0, score=1.0)


def test_grabcuts_score_tells_something_only_when_clicks_are_at_odds():
    image, _, (x1, y1, x2, y2) = ellipse_scene(seed=7)
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    # An add-click kept and a remove-click on the object, which its disc keeps out: 2 of 2.
    prompt = Prompt(points=[centre, (x2 - 3, (y1 + y2) / 2)], labels=[1, 0], box=(x1, y1, x2, y2))
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert candidate.score == 1.0  # by construction: says nothing
    assert not score_is_informative(segmenter=GrabCutSegmenter.name, clicks=2, score=1.0)
    # Clicks are hard seeds, so only clicks at odds disagree: add and remove on one spot (the
    # later disc wins), half of them obeyed.
    prompt = Prompt(points=[centre, centre], labels=[1, 0], box=(x1, y1, x2, y2))
    (candidate,) = GrabCutSegmenter().segment(image=image, image_key="x", prompt=prompt)
    assert candidate.score == 0.5
    assert score_is_informative(segmenter=GrabCutSegmenter.name, clicks=2, score=0.5)


def test_sams_predicted_iou_says_something_with_or_without_clicks():
    assert score_is_informative(segmenter="sam-vit_b", clicks=0, score=1.0)
    assert score_is_informative(segmenter="sam-vit_b", clicks=3, score=0.9)
