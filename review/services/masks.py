"""Click-to-refine masks, the web side: save a person's clicks, undo, redo, choose, accept.

A click is saved first, as the element's next MaskEdit (its prompt: the head's clicks and box
plus this click), and queued on the gpu queue after commit; review/services/mask_worker.py
computes it. A broker that does not take it leaves the edit saved and marked; it is sent again
from the database (review/services/mask_dispatch.py).
Every write here runs under a lock on the sample row, so seq numbers, the head and
the person's Region of an element change one writer at a time.

A waiting request is woken by the worker through Redis (review/services/mask_wakeup.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.adapters.segmenters import segmenter_needs_embedding
from annotator.lib.rle import is_near_empty, mask_area
from annotator.models import Region, Sample
from review import policy, tasks
from review.models import AuditEvent, MaskEdit
from review.selectors.mask_prefetch import upcoming_sample_ids
from review.selectors.masks import (
    ROLES,
    element_edits,
    has_boxes_without_masks,
    head_edit,
    redo_target,
    shown_edit,
)
from review.selectors.samples import sample_image_path
from review.services.mask_dispatch import GPU_QUEUE as GPU_QUEUE
from review.services.mask_dispatch import PRIORITY_CLICK as PRIORITY_CLICK
from review.services.mask_dispatch import PRIORITY_OPEN_SAMPLE as PRIORITY_OPEN_SAMPLE
from review.services.mask_dispatch import PRIORITY_REGIONS as PRIORITY_REGIONS
from review.services.mask_dispatch import PRIORITY_UPCOMING as PRIORITY_UPCOMING
from review.services.mask_dispatch import publish_each, send_mask_edit
from review.services.recent_asks import not_asked_recently
from review.services.sample_lock import lock_sample_for_mask_writes

MAX_POINTS = 64


class MaskConflict(ValidationError):
    """A request that is well-formed but does not fit the element's state (HTTP 409)."""


@dataclass(frozen=True)
class Click:
    x: float
    y: float
    label: int  # 1 adds, 0 removes


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            f"unknown element {role!r}: use one of {', '.join(ROLES)}", code="unknown_element"
        )
    return role


def _check_inside(sample: Sample, x: float, y: float, what: str) -> None:
    if not (0 <= x <= sample.width and 0 <= y <= sample.height):
        raise ValidationError(
            f"{what} ({x:g}, {y:g}) is outside the image ({sample.width} x {sample.height} px)",
            code="outside",
        )


def _checked_box(sample: Sample, box: tuple[float, float, float, float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    _check_inside(sample, x1, y1, "box corner")
    _check_inside(sample, x2, y2, "box corner")
    left, right, top, bottom = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    if right - left < 1 or bottom - top < 1:
        raise ValidationError("the box is empty: drag at least one pixel each way", code="empty")
    return [left, top, right, bottom]


def _check_click(sample: Sample, click: Click) -> list[float]:
    if click.label not in (0, 1):
        raise ValidationError(f"label must be 1 (add) or 0 (remove), got {click.label}")
    _check_inside(sample, click.x, click.y, "point")
    return [float(click.x), float(click.y), click.label]


def _check_may_edit(*, user: Any, sample: Sample) -> None:
    allowed = policy.can_edit_masks(user=user, sample=sample)
    if not allowed:
        raise PermissionDenied(allowed.reason)


def add_mask_edit(
    *,
    sample: Sample,
    role: str,
    author: Any,
    click: Click | None = None,
    box: tuple[float, float, float, float] | None = None,
    reset: bool = False,
) -> MaskEdit:
    """Save a click and/or a box as the element's next edit; queue it after commit.

    The prompt is the head's clicks and box plus these (with `reset`, these alone). Bad input
    raises ValidationError, a person without the sample raises PermissionDenied; nothing is
    written then.
    """
    clicks = [click] if click is not None else []
    return add_mask_edits(
        sample=sample, role=role, author=author, clicks=clicks, box=box, reset=reset
    )


def add_mask_edits(
    *,
    sample: Sample,
    role: str,
    author: Any,
    clicks: Sequence[Click],
    box: tuple[float, float, float, float] | None = None,
    reset: bool = False,
) -> MaskEdit:
    """Save clicks made in a row (the page sends those made while the previous request was on
    its way together) as one edit each, in order, so that an undo takes back exactly one click;
    a box goes with the first. Only the last edit is computed: the ones before it are stored as
    superseded (stale), and an undo back to one of them computes it, as for any stale edit.
    Returns the last edit. All or nothing: a bad click refuses the whole batch.
    """
    check_role(role)
    if not clicks and box is None:
        raise ValidationError(
            "empty edit: send a click (x, y, label) or a box (x1, y1, x2, y2)", code="empty"
        )
    new_points = [_check_click(sample, click) for click in clicks]
    new_box = _checked_box(sample, box) if box is not None else None
    _check_may_edit(user=author, sample=sample)
    if sample_image_path(sample=sample) is None:
        raise ValidationError(
            f"sample {sample.external_id}: no image file {sample.image_path!r} to segment",
            code="no_image",
        )
    with transaction.atomic():
        lock_sample_for_mask_writes(sample_id=sample.pk)
        edits = element_edits(sample_id=sample.pk, role=role, author_id=author.pk)
        # The head's prompt only: its candidates (up to hundreds of KB of RLE) are not needed.
        head = (
            None
            if reset
            else edits.filter(undone=False).order_by("-seq").only("points", "box").first()
        )
        points = list(head.points) if head is not None else []
        if len(points) + len(new_points) > MAX_POINTS:
            raise ValidationError(f"at most {MAX_POINTS} clicks per mask: undo or start over")
        kept_box = head.box if head is not None else None
        prompts = _prompts(points, new_points, new_box if new_box is not None else kept_box)
        edit = _create_edits(sample=sample, role=role, author=author, prompts=prompts)
        transaction.on_commit(functools.partial(enqueue_mask_edit, edit_id=edit.pk))
    return edit


def _prompts(
    points: list[Any], new_points: list[list[float]], box: list[float] | None
) -> list[tuple[list[Any], list[float] | None]]:
    """The (points, box) of each new edit: the head's points plus one more click each."""
    if not new_points:
        return [(points, box)]
    return [(points + new_points[: i + 1], box) for i in range(len(new_points))]


def _create_edits(
    *, sample: Sample, role: str, author: Any, prompts: list[tuple[list[Any], list[float] | None]]
) -> MaskEdit:
    """Write the edits in seq order, all but the last as superseded; returns the last."""
    # seq counts the element's edits by everyone (one order for the sample's history).
    everyone = MaskEdit.objects.filter(sample_id=sample.pk, role=role)
    last_seq = everyone.aggregate(last=Max("seq"))["last"] or 0
    edits = [
        MaskEdit.objects.create(
            sample=sample,
            role=role,
            author=author,
            seq=last_seq + i,
            points=points,
            box=box,
            status=MaskEdit.Status.PENDING if i == len(prompts) else MaskEdit.Status.STALE,
            # Sent on commit: a send that fails says so on the row (mask_dispatch).
            sent_at=timezone.now() if i == len(prompts) else None,
        )
        for i, (points, box) in enumerate(prompts, start=1)
    ]
    return edits[-1]


def enqueue_mask_edit(*, edit_id: int) -> None:
    send_mask_edit(edit_id=edit_id)


def _requeue(edit: MaskEdit) -> None:
    """Compute an edit again whose result was discarded (it had been stale) or never made."""
    MaskEdit.objects.filter(pk=edit.pk).update(
        status=MaskEdit.Status.PENDING,
        started_at=None,
        finished_at=None,
        error="",
        claimed_by="",
        lease_until=None,
        sent_at=timezone.now(),
        send_error="",
    )
    transaction.on_commit(functools.partial(enqueue_mask_edit, edit_id=edit.pk))


def undo_mask_edit(*, sample: Sample, role: str, user: Any) -> MaskEdit | None:
    """Step the element back one edit; returns the new head (None: back to no edits)."""
    with _locked_chain(sample=sample, role=role, user=user) as chain:
        head = head_edit(**chain)
        if head is None:
            raise MaskConflict(f"nothing to undo on the {role}", code="nothing_to_undo")
        MaskEdit.objects.filter(pk=head.pk).update(undone=True)
        new_head = head_edit(**chain)
        if new_head is not None and new_head.status == MaskEdit.Status.STALE:
            _requeue(new_head)
        sync_person_region(**chain)
    return new_head


def redo_mask_edit(*, sample: Sample, role: str, user: Any) -> MaskEdit:
    """Bring back the edit the last undo took away; returns it (the new head)."""
    with _locked_chain(sample=sample, role=role, user=user) as chain:
        head = head_edit(**chain)
        target = redo_target(**chain, above_seq=head.seq if head is not None else 0)
        if target is None:
            raise MaskConflict(f"nothing to redo on the {role}", code="nothing_to_redo")
        MaskEdit.objects.filter(pk=target.pk).update(undone=False)
        if target.status == MaskEdit.Status.STALE:
            _requeue(target)
        sync_person_region(**chain)
    target.refresh_from_db()
    return target


def choose_mask_candidate(*, sample: Sample, role: str, user: Any, index: int) -> MaskEdit:
    """Show another of the shown edit's candidates. A changed choice needs a new accept."""
    with _locked_chain(sample=sample, role=role, user=user) as chain:
        edit = shown_edit(**chain)
        if edit is None:
            raise MaskConflict(f"the {role} has no mask to choose from yet", code="no_mask")
        if not 0 <= index < len(edit.candidates):
            raise ValidationError(
                f"candidate {index} does not exist: choose 0 to {len(edit.candidates) - 1}"
            )
        if index != edit.chosen:
            MaskEdit.objects.filter(pk=edit.pk).update(chosen=index, accepted_at=None)
            sync_person_region(**chain)
    edit.refresh_from_db()
    return edit


def accept_mask(*, sample: Sample, role: str, user: Any) -> MaskEdit:
    """Accept the element's current mask into the decision (and the export); idempotent."""
    with _locked_chain(sample=sample, role=role, user=user) as chain:
        head = head_edit(**chain)
        if head is None or head.status != MaskEdit.Status.DONE:
            raise MaskConflict(
                f"the {role} has no finished mask to accept"
                + (" yet: it is still being computed" if head is not None else ""),
                code="no_mask",
            )
        chosen_rle = head.candidates[head.chosen]["rle"]
        if is_near_empty(area=mask_area(chosen_rle), size=chosen_rle["size"]):
            # The page greys Accept out for it; a plain POST gets the same answer.
            raise MaskConflict(
                "an empty mask cannot be accepted: click inside the region, or drag a tighter box",
                code="empty_mask",
            )
        if head.accepted_at is None:
            head.accepted_at = timezone.now()
            head.save(update_fields=["accepted_at"])
            chosen = head.candidates[head.chosen]
            AuditEvent.objects.create(
                sample=sample,
                actor=user,
                action="mask.accept",
                after={
                    "role": role,
                    "edit": head.pk,
                    "seq": head.seq,
                    "candidate": head.chosen,
                    "segmenter": head.segmenter,
                    "score": chosen["score"],
                },
            )
    return head


@contextmanager
def _locked_chain(*, sample: Sample, role: str, user: Any) -> Iterator[dict[str, Any]]:
    """Check the role and the user's right to edit, then hold the sample's mask-write lock in
    one transaction for the block; yields the element's chain (the head_edit arguments)."""
    check_role(role)
    _check_may_edit(user=user, sample=sample)
    with transaction.atomic():
        lock_sample_for_mask_writes(sample_id=sample.pk)
        yield _chain(sample, role, user)


def _chain(sample: Sample, role: str, user: Any) -> dict[str, Any]:
    """The keys of `user`'s history of the element (selectors.masks.element_edits)."""
    return {"sample_id": sample.pk, "role": role, "author_id": user.pk}


def sync_person_region(*, sample_id: int, role: str, author_id: int | None) -> None:
    """Make the element's person Region hold the chosen mask of `author_id`'s shown edit.

    One Region with origin "person" per element, without a box: the mask a person changed
    last (the machine side's view of people's work; each person's own masks are their
    MaskEdit rows). Deleted when that person's edits are all undone. Call under the sample lock.
    """
    shown = shown_edit(sample_id=sample_id, role=role, author_id=author_id)
    write_person_region(sample_id=sample_id, role=role, shown=shown)


def write_person_region(*, sample_id: int, role: str, shown: MaskEdit | None) -> None:
    """sync_person_region for a caller that knows the shown edit (the worker storing it)."""
    regions = Region.objects.filter(sample_id=sample_id, role=role, origin=Region.Origin.PERSON)
    if shown is None or not shown.candidates:
        regions.delete()
        return
    chosen = shown.candidates[shown.chosen]
    values = {"mask": chosen["rle"], "segmenter": shown.segmenter, "score": chosen["score"]}
    if regions.update(**values, updated_at=timezone.now()):
        return
    phrase = (
        Region.objects.filter(sample_id=sample_id, role=role)
        .exclude(phrase="")
        .values_list("phrase", flat=True)
        .first()
    )
    person = Region.Origin.PERSON
    Region.objects.create(
        sample_id=sample_id, role=role, origin=person, phrase=phrase or "", **values
    )


# Background work when a sample opens -----------------------------------------------------------


def _enqueue_after_commit(task: Any, sample_ids: Iterable[int], *, priority: int) -> None:
    ids = list(dict.fromkeys(int(pk) for pk in sample_ids))

    def send() -> None:
        publish_each(task, ids, priority=priority)

    if ids:
        transaction.on_commit(send)


def prefetch_embeddings(*, sample_ids: Iterable[int], priority: int = PRIORITY_UPCOMING) -> None:
    """Queue one gpu task per image that computes and caches its embedding (skipped when
    cached), so the first click there is as fast as any other; not again for an image this
    process asked for recently (recent_asks)."""
    fresh = not_asked_recently(kind="embedding", sample_ids=sample_ids, priority=priority)
    _enqueue_after_commit(tasks.prefetch_embedding, fresh, priority=priority)


def enqueue_region_masks(*, sample_ids: Iterable[int]) -> None:
    """Queue segmenting every boxed region without a mask of these samples."""
    _enqueue_after_commit(tasks.segment_sample_regions, sample_ids, priority=PRIORITY_REGIONS)


def schedule_mask_work(*, user: Any, sample: Sample) -> None:
    """What opening a sample starts: its embedding, masks for its bare boxes, and embeddings of
    the next settings.MASK_PREFETCH_COUNT samples of the person's queue (MASK_BACKGROUND_TASKS)."""
    if not settings.MASK_BACKGROUND_TASKS:
        return
    # GrabCut has no embedding: no task to send, and no need to read the person's queue ahead.
    embeds = segmenter_needs_embedding()
    if embeds:
        prefetch_embeddings(sample_ids=[sample.pk], priority=PRIORITY_OPEN_SAMPLE)
    if has_boxes_without_masks(sample_id=sample.pk):
        enqueue_region_masks(sample_ids=[sample.pk])
    if embeds:
        count = settings.MASK_PREFETCH_COUNT
        prefetch_embeddings(sample_ids=upcoming_sample_ids(user=user, sample=sample, count=count))
