"""Click-to-refine masks: saving clicks, computing them with the tiny SAM, history, staleness."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from pycocotools import mask as mask_utils

from annotator.adapters.segmenters import MaskCandidate, register_segmenter
from annotator.lib.rle import decode_mask, encode_mask
from annotator.models import Region
from review.models import AuditEvent, MaskEdit
from review.services.mask_worker import (
    compute_mask_edit,
    prepare_embedding,
    segment_sample_regions,
)
from review.services.masks import (
    Click,
    MaskConflict,
    accept_mask,
    add_mask_edit,
    choose_mask_candidate,
    redo_mask_edit,
    undo_mask_edit,
)
from tests.factories import RegionFactory, UserFactory
from tests.support.masks import (  # noqa: F401 (fixtures)
    inline_tasks,
    reference_masks,
    scene_annotator,
    scene_sample,
    tiny_sam,
    write_scene,
)

pytestmark = [pytest.mark.django_db, pytest.mark.ml]


def _click(sample, person, x, y, label=1, role="subject", **kwargs):
    return add_mask_edit(
        sample=sample, role=role, author=person, click=Click(x, y, label), **kwargs
    )


def _person_region(sample, role="subject"):
    return Region.objects.get(sample=sample, role=role, origin=Region.Origin.PERSON)


@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_stored_mask_equals_sam_predictors_for_the_same_clicks(
    sample, person, images_root, django_capture_on_commit_callbacks
):
    image = write_scene(images_root / "scene.png")
    with django_capture_on_commit_callbacks(execute=True):
        first = _click(sample, person, 150.0, 100.0)
    first.refresh_from_db()
    assert (first.status, first.seq, first.segmenter) == ("done", 1, "sam-tiny")
    multi, scores, _ = reference_masks(image, first.points)
    # One click is ambiguous: SAM's three outputs, best predicted IoU first, and that one shown.
    assert len(first.candidates) == 3
    assert np.array_equal(decode_mask(first.candidates[0]["rle"]), multi[np.argmax(scores)])
    region = _person_region(sample)
    assert np.array_equal(decode_mask(region.mask), multi[np.argmax(scores)])
    assert (region.segmenter, region.score) == ("sam-tiny", first.candidates[0]["score"])

    with django_capture_on_commit_callbacks(execute=True):
        second = _click(sample, person, 20.0, 20.0, label=0)
    second.refresh_from_db()
    assert second.points == [[150.0, 100.0, 1], [20.0, 20.0, 0]]
    _, _, single = reference_masks(image, second.points)
    # More clicks: SAM's single-mask output first, its two best multimask outputs as alternatives.
    assert len(second.candidates) == 3
    assert np.array_equal(decode_mask(_person_region(sample).mask), single)


@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_the_rle_round_trips_exactly_through_pycocotools(
    sample, person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        edit = _click(sample, person, 150.0, 100.0)
    edit.refresh_from_db()
    for candidate in edit.candidates:
        rle = candidate["rle"]
        assert rle["size"] == [240, 320] and isinstance(rle["counts"], str)
        mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        again = mask_utils.encode(np.asfortranarray(mask))
        assert again["counts"].decode() == rle["counts"]
        assert encode_mask(decode_mask(rle)) == rle


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"click": Click(321.0, 10.0, 1)}, ValidationError, r"point \(321, 10\) is outside"),
        ({"click": Click(-1.0, 10.0, 1)}, ValidationError, "outside the image"),
        ({"click": Click(10.0, 10.0, 2)}, ValidationError, "label must be 1"),
        ({}, ValidationError, "empty edit"),
        ({"box": (10.0, 10.0, 10.0, 50.0)}, ValidationError, "the box is empty"),
        ({"box": (10.0, 10.0, 400.0, 50.0)}, ValidationError, "box corner"),
        ({"role": "sky", "click": Click(1.0, 1.0, 1)}, ValidationError, "unknown element 'sky'"),
        ({"author": "stranger", "click": Click(1.0, 1.0, 1)}, PermissionDenied, "not assigned"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(sample, person, kwargs, error, message):
    arguments = {"sample": sample, "role": "subject", "author": person, **kwargs}
    if arguments["author"] == "stranger":
        arguments["author"] = UserFactory.create()  # no role, no assignment
    with pytest.raises(error, match=message):
        add_mask_edit(**arguments)
    assert not MaskEdit.objects.exists()
    assert not Region.objects.exists()


def test_a_sample_without_its_image_file_is_refused(sample, person, images_root):
    (images_root / "scene.png").unlink()
    with pytest.raises(ValidationError, match="no image file"):
        _click(sample, person, 5.0, 5.0)
    assert not MaskEdit.objects.exists()


def test_each_edit_adds_to_the_heads_prompt_until_reset(sample, person):
    first = _click(sample, person, 10.0, 10.0)
    boxed = add_mask_edit(sample=sample, role="subject", author=person, box=(50, 60, 5, 8))
    second = _click(sample, person, 12.0, 14.0, label=0)
    other_element = _click(sample, person, 1.0, 2.0, role="background")
    fresh = _click(sample, person, 30.0, 30.0, reset=True)
    assert [e.seq for e in (first, boxed, second, fresh)] == [1, 2, 3, 4]
    assert boxed.box == [5.0, 8.0, 50.0, 60.0] and boxed.points == [[10.0, 10.0, 1]]
    assert second.points == [[10.0, 10.0, 1], [12.0, 14.0, 0]] and second.box == boxed.box
    assert (other_element.seq, other_element.points) == (1, [[1.0, 2.0, 1]])
    assert (fresh.points, fresh.box) == ([[30.0, 30.0, 1]], None)
    assert {e.status for e in MaskEdit.objects.all()} == {"pending"}


@pytest.mark.usefixtures("tiny_sam")
def test_a_duplicate_delivery_stores_one_result(sample, person):
    edit = _click(sample, person, 150.0, 100.0)
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    edit.refresh_from_db()
    stored = (edit.candidates, edit.finished_at)
    assert compute_mask_edit(edit_id=edit.pk) == "skipped"
    edit.refresh_from_db()
    assert (edit.candidates, edit.finished_at) == stored
    assert Region.objects.filter(sample=sample, origin=Region.Origin.PERSON).count() == 1


@pytest.mark.usefixtures("tiny_sam")
def test_a_result_older_than_the_latest_edit_is_discarded(sample, person):
    older = _click(sample, person, 150.0, 100.0)
    newer = _click(sample, person, 160.0, 110.0)
    assert compute_mask_edit(edit_id=newer.pk) == "done"
    assert compute_mask_edit(edit_id=older.pk) == "stale"  # delivered late: never shown
    older.refresh_from_db()
    assert (older.status, older.candidates) == ("stale", [])
    region = _person_region(sample)
    newer.refresh_from_db()
    assert region.mask == newer.candidates[0]["rle"]


class _ClickDuringSegmenting:
    """A segmenter during whose work the person clicks again (a newer edit appears)."""

    name = "racing"
    needs_embedding = False

    def prepare(self, *, image, image_key):
        return True

    def is_prepared(self, *, image_key):
        return True

    def segment(self, *, image, image_key, prompt, multimask=True):
        edit = MaskEdit.objects.order_by("-seq")[0]
        MaskEdit.objects.create(
            sample=edit.sample, role=edit.role, author=edit.author, seq=edit.seq + 1, points=[]
        )
        return [MaskCandidate(mask=np.ones(image.shape[:2], dtype=bool), score=0.9)]


def test_staleness_is_checked_again_before_storing(settings, sample, person):
    register_segmenter("racing", _ClickDuringSegmenting)
    settings.SEGMENTER = "racing"
    edit = _click(sample, person, 150.0, 100.0)
    assert compute_mask_edit(edit_id=edit.pk) == "stale"
    edit.refresh_from_db()
    assert (edit.status, edit.candidates) == ("stale", [])
    assert not Region.objects.filter(origin=Region.Origin.PERSON).exists()


@pytest.mark.usefixtures("tiny_sam")
def test_a_claim_left_by_a_dead_worker_is_taken_over_a_live_one_is_not(settings, sample, person):
    edit = _click(sample, person, 150.0, 100.0)
    now = timezone.now()
    lease = timedelta(seconds=settings.MASK_CLAIM_LEASE_SECONDS)
    MaskEdit.objects.filter(pk=edit.pk).update(
        status="running", started_at=now, claimed_by="elsewhere:1", lease_until=now + lease
    )
    assert compute_mask_edit(edit_id=edit.pk) == "skipped"  # another worker is on it
    MaskEdit.objects.filter(pk=edit.pk).update(lease_until=now - timedelta(seconds=1))
    assert compute_mask_edit(edit_id=edit.pk) == "done"  # its lease lapsed: the worker died


@pytest.mark.usefixtures("tiny_sam")
def test_a_missing_image_fails_the_edit_with_the_file_named(sample, person, images_root):
    edit = _click(sample, person, 150.0, 100.0)
    (images_root / "scene.png").unlink()
    assert compute_mask_edit(edit_id=edit.pk) == "failed"
    edit.refresh_from_db()
    assert edit.status == "failed" and "scene.png" in edit.error


def _two_done_edits(sample, person):
    first = _click(sample, person, 150.0, 100.0)
    compute_mask_edit(edit_id=first.pk)
    second = _click(sample, person, 40.0, 40.0, label=0)
    compute_mask_edit(edit_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_undo_and_redo_walk_the_history_and_the_region_follows(sample, person):
    first, second = _two_done_edits(sample, person)
    assert undo_mask_edit(sample=sample, role="subject", user=person) == first
    assert _person_region(sample).mask == first.candidates[0]["rle"]
    assert redo_mask_edit(sample=sample, role="subject", user=person) == second
    assert _person_region(sample).mask == second.candidates[0]["rle"]
    undo_mask_edit(sample=sample, role="subject", user=person)
    assert undo_mask_edit(sample=sample, role="subject", user=person) is None
    assert not Region.objects.filter(origin=Region.Origin.PERSON).exists()  # history stays
    assert MaskEdit.objects.count() == 2
    with pytest.raises(MaskConflict, match="nothing to undo"):
        undo_mask_edit(sample=sample, role="subject", user=person)
    # A new click after undo starts a new branch: nothing is left to redo.
    redo_mask_edit(sample=sample, role="subject", user=person)
    _click(sample, person, 10.0, 10.0)
    with pytest.raises(MaskConflict, match="nothing to redo"):
        redo_mask_edit(sample=sample, role="subject", user=person)


@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_undo_onto_a_skipped_edit_computes_it(sample, person, django_capture_on_commit_callbacks):
    skipped = _click(sample, person, 150.0, 100.0)
    newer = _click(sample, person, 40.0, 40.0, label=0)
    compute_mask_edit(edit_id=skipped.pk)  # stale: the newer click supersedes it
    compute_mask_edit(edit_id=newer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        head = undo_mask_edit(sample=sample, role="subject", user=person)
    assert head is not None
    head.refresh_from_db()
    assert (head.pk, head.status) == (skipped.pk, "done")
    assert _person_region(sample).mask == head.candidates[0]["rle"]


@pytest.mark.usefixtures("tiny_sam")
def test_choosing_another_candidate_and_accepting(sample, person):
    edit = _click(sample, person, 150.0, 100.0)
    compute_mask_edit(edit_id=edit.pk)
    accepted = accept_mask(sample=sample, role="subject", user=person)
    assert accepted.accepted_at is not None
    event = AuditEvent.objects.get(action="mask.accept")
    assert event.after is not None
    assert (event.actor, event.after["edit"], event.after["candidate"]) == (person, edit.pk, 0)
    assert accept_mask(sample=sample, role="subject", user=person).accepted_at == (
        accepted.accepted_at
    )  # idempotent
    chosen = choose_mask_candidate(sample=sample, role="subject", user=person, index=2)
    assert (chosen.chosen, chosen.accepted_at) == (2, None)  # a new choice needs a new accept
    assert _person_region(sample).mask == chosen.candidates[2]["rle"]
    with pytest.raises(ValidationError, match="candidate 3 does not exist"):
        choose_mask_candidate(sample=sample, role="subject", user=person, index=3)


def test_nothing_to_accept_while_the_mask_is_computing(sample, person):
    _click(sample, person, 150.0, 100.0)
    with pytest.raises(MaskConflict, match="still being computed"):
        accept_mask(sample=sample, role="subject", user=person)
    with pytest.raises(MaskConflict, match="no mask to choose"):
        choose_mask_candidate(sample=sample, role="subject", user=person, index=1)


@pytest.mark.usefixtures("tiny_sam")
def test_boxes_without_masks_get_the_segmenters_mask(sample, images_root):
    image = write_scene(images_root / "scene.png")
    bare = RegionFactory.create(sample=sample, role="subject", x1=60, y1=40, x2=250, y2=190)
    kept = RegionFactory.create(
        sample=sample, role="background", mask=encode_mask(np.ones((240, 320), bool))
    )
    RegionFactory.create(sample=sample, role="attribute", x1=None, y1=None, x2=None, y2=None)
    assert segment_sample_regions(sample_id=sample.pk) == 1
    bare.refresh_from_db()
    assert (bare.segmenter, bare.origin) == ("sam-tiny", Region.Origin.IMPORT)
    from segment_anything import SamPredictor

    from tests.support.tiny_sam import build_tiny_sam

    predictor = SamPredictor(build_tiny_sam(seed=1))
    predictor.set_image(image)
    masks, scores, _ = predictor.predict(box=np.array([60, 40, 250, 190]), multimask_output=True)
    assert bare.mask is not None
    assert np.array_equal(decode_mask(bare.mask), masks[np.argmax(scores)])
    assert Region.objects.get(pk=kept.pk).segmenter == ""  # an existing mask is left alone
    assert segment_sample_regions(sample_id=sample.pk) == 0  # a second run writes nothing


@pytest.mark.usefixtures("tiny_sam")
def test_prepare_embedding_encodes_once_then_finds_it_cached(sample, tmp_path):
    assert prepare_embedding(sample_id=sample.pk) is False
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 1
    assert prepare_embedding(sample_id=sample.pk) is True
    assert prepare_embedding(sample_id=10**9) is None


# Export: masks as COCO RLE in the bbox entries ------------------------------------------------


def _blob(top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((240, 320), dtype=bool)
    mask[top : top + size, left : left + size + 7] = True
    mask[top + size // 2, left : left + size * 2] = True  # a ragged edge: longer RLE strings
    return mask


def test_accepted_and_machine_masks_round_trip_through_csv_and_parquet(
    sample, person, tmp_path, settings
):
    import csv
    import json

    import pyarrow.parquet as pq

    from review.services.export import write_csv
    from review.services.export_parquet import write_parquet

    settings.EXPORT_BATCH_SIZE = 1
    machine = _blob(10, 20, 30)
    RegionFactory.create(
        sample=sample, role="background", phrase="plain", mask=encode_mask(machine), segmenter="g"
    )
    RegionFactory.create(sample=sample, role="subject", phrase="ellipse")  # a box, no mask
    accepted, later = _blob(100, 120, 50), _blob(90, 110, 60)
    candidates = [{"rle": encode_mask(m), "score": s} for m, s in ((later, 0.5), (accepted, 0.8))]
    MaskEdit.objects.create(
        sample=sample, role="subject", author=person, seq=1, points=[[140, 120, 1]],
        status="done", candidates=candidates, chosen=1, segmenter="sam-vit_b",
        accepted_at=timezone.now(),
    )  # fmt: skip
    MaskEdit.objects.create(  # refined after accepting, not accepted: not exported
        sample=sample, role="subject", author=person, seq=2, points=[[140, 120, 1]],
        status="done", candidates=candidates, chosen=0, segmenter="sam-vit_b",
    )  # fmt: skip
    MaskEdit.objects.create(  # accepted, then undone: not exported
        sample=sample, role="attribute", author=person, seq=1, points=[[1, 1, 1]],
        status="done", candidates=candidates, undone=True, accepted_at=timezone.now(),
    )  # fmt: skip

    with open(tmp_path / "labels.csv", "w", newline="") as out:
        write_csv(dataset=sample.dataset, scope="all", out=out)
    with open(tmp_path / "labels.csv", newline="") as handle:
        (csv_row,) = list(csv.DictReader(handle))
    write_parquet(dataset=sample.dataset, scope="all", path=tmp_path / "labels.parquet")
    (parquet_row,) = pq.read_table(tmp_path / "labels.parquet").to_pylist()

    # The CSV's bbox is JSON text without machine origins; Parquet's regions are structs
    # (every key present, null when absent) with each region's origin.
    csv_entries, parquet_entries = json.loads(csv_row["bbox"]), parquet_row["regions"]
    assert [(e["role"], e.get("origin"), e.get("segmenter")) for e in csv_entries] == [
        ("background", None, "g"),
        ("subject", None, None),
        ("subject", "person", "sam-vit_b"),
    ]
    assert [(e["role"], e["origin"], e["segmenter"]) for e in parquet_entries] == [
        ("background", "import", "g"),
        ("subject", "import", None),
        ("subject", "person", "sam-vit_b"),
    ]
    assert "mask" not in csv_entries[1] and parquet_entries[1]["mask"] is None
    for entries in (csv_entries, parquet_entries):
        person_entry = entries[2]
        assert person_entry["phrase"] == "ellipse" and person_entry["score"] == 0.8
        assert person_entry["box"] == [120.0, 100.0, 220.0, 150.0]  # around the mask
        for entry, expected in ((entries[0], machine), (person_entry, accepted)):
            rle = entry["mask"]
            assert isinstance(rle["counts"], str)
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            assert np.array_equal(decoded.astype(bool), expected)


@pytest.mark.usefixtures("inline_tasks")
def test_without_sam_weights_grabcut_makes_the_mask(
    settings, sample, person, django_capture_on_commit_callbacks
):
    pytest.importorskip("cv2")
    settings.SEGMENTER = "auto"
    settings.SAM_CHECKPOINT = None
    with django_capture_on_commit_callbacks(execute=True):
        edit = _click(sample, person, 150.0, 100.0)
    edit.refresh_from_db()
    assert (edit.status, edit.segmenter) == ("done", "grabcut")
    region = _person_region(sample)
    assert region.segmenter == "grabcut" and decode_mask(region.mask)[100, 150]


@pytest.mark.usefixtures("tiny_sam")
def test_the_worker_marks_the_edit_while_it_encodes_the_image(sample, person):
    first = _click(sample, person, 150.0, 100.0)
    assert compute_mask_edit(edit_id=first.pk) == "done"
    second = _click(sample, person, 160.0, 110.0)
    assert compute_mask_edit(edit_id=second.pk) == "done"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.preparing, second.preparing) == (True, False)  # the image is loaded now
