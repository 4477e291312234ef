"""Clicks made in a row and saved together (add_mask_edits): one edit each, only the last
computed, undo takes back exactly one click; with GrabCut, the demo's segmenter."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotator.lib.rle import decode_mask
from review.models import MaskEdit
from review.selectors.masks import mask_state
from review.services.mask_worker import compute_mask_edit
from review.services.masks import (
    MAX_POINTS,
    Click,
    add_mask_edit,
    add_mask_edits,
    redo_mask_edit,
    undo_mask_edit,
)
from tests.support.masks import (  # noqa: F401 (fixtures)
    grabcut,
    inline_tasks,
    scene_annotator,
    scene_sample,
)

pytestmark = pytest.mark.django_db

CLICKS = [Click(150.0, 100.0, 1), Click(160.0, 110.0, 1), Click(20.0, 20.0, 0)]


def _add(sample, person, clicks, **kwargs):
    return add_mask_edits(sample=sample, role="subject", author=person, clicks=clicks, **kwargs)


def test_clicks_in_a_row_are_one_edit_each_and_only_the_last_is_queued(
    sample, person, django_capture_on_commit_callbacks
):
    add_mask_edit(sample=sample, role="subject", author=person, box=(10, 10, 300, 230))
    with django_capture_on_commit_callbacks() as queued:
        last = _add(sample, person, CLICKS)
    edits = list(MaskEdit.objects.order_by("seq"))
    assert edits[-1] == last and [e.seq for e in edits] == [1, 2, 3, 4]
    assert [e.points for e in edits[1:]] == [
        [[150.0, 100.0, 1]],
        [[150.0, 100.0, 1], [160.0, 110.0, 1]],
        [[150.0, 100.0, 1], [160.0, 110.0, 1], [20.0, 20.0, 0]],
    ]
    assert {tuple(e.box or ()) for e in edits} == {
        (10.0, 10.0, 300.0, 230.0)
    }  # the head's box kept
    assert [e.status for e in edits[1:]] == ["stale", "stale", "pending"]
    assert len(queued) == 1  # one computation for the three clicks


def test_a_box_goes_with_the_first_click_and_reset_starts_over(sample, person):
    add_mask_edit(sample=sample, role="subject", author=person, click=CLICKS[0])
    last = _add(sample, person, CLICKS[1:], box=(5, 6, 50, 60), reset=True)
    first, second = MaskEdit.objects.order_by("seq")[1:]
    assert (first.points, first.box) == ([[160.0, 110.0, 1]], [5.0, 6.0, 50.0, 60.0])
    assert second == last and last.points == [[160.0, 110.0, 1], [20.0, 20.0, 0]]


@pytest.mark.parametrize(
    ("clicks", "message"),
    [
        ([CLICKS[0], Click(999.0, 5.0, 1)], "outside the image"),
        ([CLICKS[0], Click(5.0, 5.0, 3)], "label must be 1"),
        ([], "empty edit"),
        ([CLICKS[0]] * (MAX_POINTS + 1), f"at most {MAX_POINTS} clicks"),
    ],
)
def test_one_bad_click_refuses_them_all(sample, person, clicks, message):
    with pytest.raises(ValidationError, match=message):
        _add(sample, person, clicks)
    assert not MaskEdit.objects.exists()


@pytest.mark.usefixtures("grabcut", "inline_tasks")
def test_undo_after_quick_clicks_takes_back_the_last_one_and_computes_the_one_before(
    sample, person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        last = _add(sample, person, CLICKS)
    last.refresh_from_db()
    assert (last.status, last.segmenter, len(last.candidates)) == ("done", "grabcut", 1)
    state = mask_state(sample=sample, role="subject", author_id=person.pk)
    assert state.shown == last and len(state.points) == 3

    with django_capture_on_commit_callbacks(execute=True):
        head = undo_mask_edit(sample=sample, role="subject", user=person)
    assert head is not None
    head.refresh_from_db()
    assert head.points == [[150.0, 100.0, 1], [160.0, 110.0, 1]]
    assert head.status == "done"  # it had never been computed: the undo computed it
    assert decode_mask(head.candidates[0]["rle"])[100, 150]

    with django_capture_on_commit_callbacks(execute=True):
        assert redo_mask_edit(sample=sample, role="subject", user=person) == last
    assert len(mask_state(sample=sample, role="subject", author_id=person.pk).points) == 3


@pytest.mark.usefixtures("grabcut")
def test_a_result_for_an_earlier_click_is_discarded_when_more_came(sample, person):
    """The first request's click computes while three more are saved: its result is stale."""
    first = add_mask_edit(sample=sample, role="subject", author=person, click=CLICKS[0])
    last = _add(sample, person, [*CLICKS[1:], Click(200.0, 150.0, 1)])
    assert compute_mask_edit(edit_id=first.pk) == "stale"
    assert compute_mask_edit(edit_id=last.pk) == "done"
    between = MaskEdit.objects.filter(seq__gt=first.seq, seq__lt=last.seq)
    assert {compute_mask_edit(edit_id=e.pk) for e in between} == {"skipped"}  # never computed
    assert len(MaskEdit.objects.get(pk=last.pk).points) == 4
