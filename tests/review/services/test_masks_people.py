"""Each person refines their own masks: under blind review nobody sees or builds on another
annotator's clicks, and one person's work never makes another's result stale."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.lib.rle import decode_mask, encode_mask
from annotator.models import Region
from review.selectors.masks import mask_state
from review.services.mask_worker import compute_mask_edit
from review.services.masks import Click, accept_mask, add_mask_edit, undo_mask_edit
from tests.factories import RegionFactory
from tests.support.masks import (  # noqa: F401 (fixtures)
    make_annotator,
    scene_sample,
    tiny_sam,
)

pytestmark = [pytest.mark.django_db, pytest.mark.ml]


def _click(sample, person, x, y, label=1):
    return add_mask_edit(sample=sample, role="subject", author=person, click=Click(x, y, label))


def _computed(sample, person, x, y, label=1):
    edit = _click(sample, person, x, y, label)
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    edit.refresh_from_db()
    return edit


@pytest.mark.usefixtures("tiny_sam")
def test_two_people_build_on_their_own_clicks_and_see_their_own_mask(sample):
    first, second = make_annotator(sample), make_annotator(sample)
    a1 = _computed(sample, first, 150.0, 100.0)
    b1 = _computed(sample, second, 40.0, 30.0, label=0)
    a2 = _computed(sample, first, 160.0, 110.0)
    assert b1.points == [[40.0, 30.0, 0]]  # not on top of the first person's click
    assert a2.points == [[150.0, 100.0, 1], [160.0, 110.0, 1]]
    assert [e.status for e in (a1, b1, a2)] == ["done", "done", "done"]
    assert a1.seq < b1.seq < a2.seq  # one order for the sample's history

    mine = mask_state(sample=sample, role="subject", author_id=first.pk)
    theirs = mask_state(sample=sample, role="subject", author_id=second.pk)
    assert (mine.head, mine.shown) == (a2, a2) and mine.points == a2.points
    assert (theirs.head, theirs.shown) == (b1, b1) and theirs.points == b1.points
    assert mine.masks[0].rle == a2.candidates[a2.chosen]["rle"]
    assert theirs.masks[0].rle == b1.candidates[b1.chosen]["rle"]


@pytest.mark.usefixtures("tiny_sam")
def test_undo_and_accept_touch_only_the_persons_own_history(sample):
    first, second = make_annotator(sample), make_annotator(sample)
    a1 = _computed(sample, first, 150.0, 100.0)
    b1 = _computed(sample, second, 40.0, 30.0)
    assert undo_mask_edit(sample=sample, role="subject", user=first) is None
    assert mask_state(sample=sample, role="subject", author_id=first.pk).head is None
    assert mask_state(sample=sample, role="subject", author_id=second.pk).head == b1
    accepted = accept_mask(sample=sample, role="subject", user=second)
    assert accepted == b1 and accepted.accepted_at is not None
    a1.refresh_from_db()
    assert a1.undone and a1.accepted_at is None


@pytest.mark.usefixtures("tiny_sam")
def test_another_persons_later_click_does_not_make_a_result_stale(sample):
    first, second = make_annotator(sample), make_annotator(sample)
    mine = _click(sample, first, 150.0, 100.0)
    theirs = _click(sample, second, 40.0, 30.0)
    assert compute_mask_edit(edit_id=theirs.pk) == "done"
    assert compute_mask_edit(edit_id=mine.pk) == "done"  # delivered late, still the head
    mine.refresh_from_db()
    assert mine.status == "done" and len(mine.candidates) == 3


def test_a_reader_sees_the_machines_masks_and_nobodys_edits(sample):
    machine = np.zeros((sample.height, sample.width), dtype=bool)
    machine[10:40, 20:60] = True
    RegionFactory.create(
        sample=sample, role="subject", mask=encode_mask(machine), segmenter="sam-vit_b"
    )
    person = make_annotator(sample)
    _click(sample, person, 150.0, 100.0)  # pending: no worker here
    reader = mask_state(sample=sample, role="subject", author_id=None)
    assert reader.head is None and not reader.can_redo and not reader.can_undo
    assert [m.origin for m in reader.masks] == [Region.Origin.IMPORT]
    assert np.array_equal(decode_mask(reader.masks[0].rle), machine)
