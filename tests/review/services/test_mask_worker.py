"""A click on an 88-megapixel image is segmented on a bounded working copy (at most
MASK_WORK_MAX_SIDE on its long side), the click scaled in and the mask scaled back
(annotator/adapters/segmenters/working_copy.py; its own tests beside the segmenters')."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw

from annotator.lib.rle import decode_mask, mask_area, mask_bbox
from review.models import Assignment, MaskEdit
from review.services.mask_worker import compute_mask_edit, load_sample_image
from review.services.masks import Click, add_mask_edit
from tests.factories import DatasetFactory, SampleFactory
from tests.support.masks import (  # noqa: F401 (fixtures)
    make_annotator,
    make_scene_sample,
    tiny_sam,
)

HUGE = (11_000, 8_000)  # 88 megapixels: 264 MB as an RGB array
OBJECT = (6_000, 2_000, 9_000, 6_000)  # a bright rectangle on a dark ground


@pytest.fixture
def huge_sample(tmp_path, settings):
    settings.SEGMENTER = "grabcut"
    image = Image.new("L", HUGE, 20)
    ImageDraw.Draw(image).rectangle(OBJECT, fill=235)
    image.save(tmp_path / "huge.png", compress_level=1)
    del image
    dataset = DatasetFactory.create(images_root=str(tmp_path), overlap_k=1)
    return SampleFactory.create(
        dataset=dataset, image_path="huge.png", width=HUGE[0], height=HUGE[1]
    )


@pytest.mark.django_db
def test_an_88_megapixel_click_is_segmented_on_a_bounded_copy(huge_sample, settings):
    person = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    Assignment.objects.create(sample=huge_sample, annotator=person, expires_at=expires)
    edit = add_mask_edit(
        sample=huge_sample, role="subject", author=person, click=Click(7500.0, 4000.0, 1)
    )
    tracemalloc.start()
    try:
        assert compute_mask_edit(edit_id=edit.pk) == "done"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The whole image as an array would be 264 MB (RGB) or 88 MB (a full-size mask).
    assert peak < 60 * 1024**2, f"{peak / 1024**2:.0f} MB of arrays for one click"
    work = load_sample_image(sample=huge_sample)
    assert max(work.pixels.shape[:2]) == settings.MASK_WORK_MAX_SIDE
    rle = MaskEdit.objects.get().candidates[0]["rle"]
    assert rle["size"] == [HUGE[1], HUGE[0]]  # the mask is at the image's own size
    x, y, w, h = mask_bbox(rle)
    left, top, right, bottom = OBJECT
    tolerance = 60  # a few working pixels (5.4 image pixels each) at the edges
    assert abs(x - left) < tolerance and abs(y - top) < tolerance
    assert abs(x + w - right) < tolerance and abs(y + h - bottom) < tolerance
    assert mask_area(rle) > 0.9 * (right - left) * (bottom - top)
    assert decode_mask(rle)[4000, 7500]  # the clicked pixel is in it


@pytest.mark.ml
@pytest.mark.django_db
@pytest.mark.usefixtures("tiny_sam")
def test_sam_segments_the_working_copy_and_answers_at_full_size(images_root, settings):
    settings.MASK_WORK_MAX_SIDE = 160  # the 320x240 scene is halved
    sample = make_scene_sample(images_root)
    person = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    Assignment.objects.create(sample=sample, annotator=person, expires_at=expires)
    edit = add_mask_edit(sample=sample, role="subject", author=person, click=Click(150, 100, 1))
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    edit.refresh_from_db()
    assert edit.segmenter == "sam-tiny" and len(edit.candidates) == 3
    assert {tuple(c["rle"]["size"]) for c in edit.candidates} == {(240, 320)}
    work = load_sample_image(sample=sample)
    assert work.pixels.shape == (120, 160, 3)
    assert work.key(sample.content_hash) == f"{sample.content_hash}@160x120"


@pytest.mark.django_db
def test_a_click_without_a_box_is_segmented_in_the_elements_grounding_box():
    """GrabCut needs a region: the click's prompt carries the machines' box for the element
    (the best-scored one, corners in order) unless the person drew a box themselves."""
    from annotator.models import Region
    from review.services.mask_worker import prompt_of
    from tests.factories import RegionFactory
    from tests.factories_review import MaskEditFactory

    sample = SampleFactory.create()
    RegionFactory.create(sample=sample, role="subject", x1=50, y1=60, x2=10, y2=20, score=0.9)
    RegionFactory.create(sample=sample, role="subject", x1=0, y1=0, x2=5, y2=5, score=0.2)
    RegionFactory.create(sample=sample, role="subject", origin=Region.Origin.PERSON, score=1.0)
    RegionFactory.create(sample=sample, role="background", x1=0, y1=0, x2=64, y2=48)
    clicked = MaskEditFactory.create(sample=sample, role="subject", points=[[30, 40, 1]])
    assert prompt_of(clicked).hint == (10.0, 20.0, 50.0, 60.0)
    boxed = MaskEditFactory.create(sample=sample, role="subject", box=[1, 2, 3, 4])
    assert (prompt_of(boxed).box, prompt_of(boxed).hint) == ((1.0, 2.0, 3.0, 4.0), None)
    bare = MaskEditFactory.create(sample=sample, role="attribute")
    assert prompt_of(bare).hint is None
