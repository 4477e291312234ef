"""Click-to-refine masks, the worker side: compute an edit, prefetch an embedding, mask boxes.

Idempotent under redelivery (acks_late): an edit is claimed with a conditional UPDATE (pending,
or running under a claim older than MASK_CLAIM_TIMEOUT_SECONDS, i.e. a worker that died), its
result is written once under the sample lock, and staleness is checked before computing and
again before storing: a result for an edit that newer work superseded (the same person's later
edit of the element, or an undo) is discarded, never shown over it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from PIL import Image

from annotator.adapters.segmenters import MaskCandidate, Prompt, get_segmenter
from annotator.models import Region, Sample
from annotator.services.rle import encode_mask
from review.models import MaskEdit
from review.selectors.masks import boxes_without_masks, is_edit_stale
from review.selectors.samples import sample_image_path
from review.services.mask_wakeup import notify_mask_edit_finished
from review.services.masks import _lock_sample, write_person_region

logger = logging.getLogger(__name__)

DONE, STALE, FAILED, SKIPPED = "done", "stale", "failed", "skipped"


class _LastImage:
    """The worker's last decoded image: consecutive clicks on one image skip JPEG decoding."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, float] | None = None
        self._image: np.ndarray | None = None

    def load(self, path: Path) -> np.ndarray:
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            if self._key == key and self._image is not None:
                return self._image
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
        with self._lock:
            self._key, self._image = key, array
        return array


_last_image = _LastImage()


def load_sample_image(*, sample: Sample) -> np.ndarray:
    """The sample's image as HxWx3 uint8 RGB; ValueError naming the file when it is missing."""
    path = sample_image_path(sample=sample)
    if path is None:
        raise ValueError(
            f"sample {sample.external_id}: image {sample.image_path!r} not found under "
            f"{sample.dataset.images_root or '(no images root)'}"
        )
    return _last_image.load(path)


def image_key(sample: Sample) -> str:
    return sample.content_hash or f"sample-{sample.pk}"


def _claimable(now: datetime) -> Q:
    expired = now - timedelta(seconds=settings.MASK_CLAIM_TIMEOUT_SECONDS)
    return Q(status=MaskEdit.Status.PENDING) | Q(
        Q(started_at__lt=expired) | Q(started_at=None), status=MaskEdit.Status.RUNNING
    )


def _claim(edit_id: int) -> tuple[MaskEdit | None, str]:
    """Claim the edit to compute it: (edit, "") then. Otherwise (None, SKIPPED) when it is
    not claimable, or (None, STALE) when it was claimable but superseded (marked stale).

    Usually one UPDATE that claims only a fresh edit; when that claims nothing, the edit is
    looked at again under the sample lock, which undo and redo hold too, so an edit they make
    the head again is never marked stale.
    """
    now = timezone.now()
    newer = MaskEdit.objects.filter(
        sample_id=OuterRef("sample_id"),
        role=OuterRef("role"),
        author_id=OuterRef("author_id"),
        seq__gt=OuterRef("seq"),
    ).filter(undone=False)
    fresh = MaskEdit.objects.filter(_claimable(now), pk=edit_id, undone=False)
    if not fresh.filter(~Exists(newer)).update(status=MaskEdit.Status.RUNNING, started_at=now):
        with transaction.atomic():
            sample_id = MaskEdit.objects.filter(pk=edit_id).values_list("sample_id").first()
            if sample_id is None:
                return None, SKIPPED
            _lock_sample(sample_id[0])
            claimable = MaskEdit.objects.filter(_claimable(now), pk=edit_id)
            if not claimable.update(status=MaskEdit.Status.RUNNING, started_at=now):
                return None, SKIPPED
            edit = MaskEdit.objects.get(pk=edit_id)
            if is_edit_stale(edit=edit):
                _finish(edit, MaskEdit.Status.STALE)
                return None, STALE
    return MaskEdit.objects.select_related("sample__dataset").get(pk=edit_id), ""


def _finish(edit: MaskEdit, status: str, **values: Any) -> bool:
    """Write the outcome if `edit` is still ours (same claim); False when it was not."""
    updated = MaskEdit.objects.filter(
        pk=edit.pk, status=MaskEdit.Status.RUNNING, started_at=edit.started_at
    ).update(status=status, finished_at=timezone.now(), **values)
    return bool(updated)


def prompt_of(edit: MaskEdit) -> Prompt:
    points = [(float(x), float(y)) for x, y, _ in edit.points]
    labels = [int(label) for _, _, label in edit.points]
    box = tuple(float(v) for v in edit.box) if edit.box else None
    return Prompt(points=points, labels=labels, box=box)  # type: ignore[arg-type]


def encode_candidates(candidates: list[MaskCandidate]) -> list[dict[str, Any]]:
    return [{"rle": encode_mask(c.mask), "score": round(c.score, 4)} for c in candidates]


def compute_mask_edit(*, edit_id: int) -> str:
    """Segment one edit's prompt and store the candidates; returns what happened:
    "done", "stale" (discarded), "failed" or "skipped" (not claimable: done, or another worker
    holds a fresh claim, or the edit is gone)."""
    edit, outcome = _claim(edit_id)
    if edit is None:
        if outcome == STALE:
            notify_mask_edit_finished(edit_id=edit_id)
        return outcome
    try:
        return _compute_claimed(edit)
    except (OperationalError, InterfaceError):
        _release(edit)  # transient: the task's retry claims it again
        raise
    finally:
        notify_mask_edit_finished(edit_id=edit_id)


def _release(edit: MaskEdit) -> None:
    with contextlib.suppress(DatabaseError):
        MaskEdit.objects.filter(
            pk=edit.pk, status=MaskEdit.Status.RUNNING, started_at=edit.started_at
        ).update(status=MaskEdit.Status.PENDING, started_at=None)


def _compute_claimed(edit: MaskEdit) -> str:
    try:
        segmenter = get_segmenter()
        image = load_sample_image(sample=edit.sample)
        key = image_key(edit.sample)
        if segmenter.needs_embedding and not segmenter.is_prepared(image_key=key):
            # Seconds of encoding ahead: the waiting page says "preparing image…".
            MaskEdit.objects.filter(pk=edit.pk).update(preparing=True)
        started = time.perf_counter()
        candidates = segmenter.segment(image=image, image_key=key, prompt=prompt_of(edit))
        segmented = time.perf_counter()
    except Exception as exc:
        # Not transient: a missing or unreadable image, a bad prompt, a misconfiguration, a
        # model error. The person sees the message and can undo or click again.
        logger.exception("mask edit %s failed", edit.pk)
        _finish(edit, MaskEdit.Status.FAILED, error=str(exc)[:2000])
        return FAILED
    outcome = _store(edit, encode_candidates(candidates), segmenter.name)
    logger.info(
        "mask edit %s %s: segment %.1f ms, encode and store %.1f ms",
        edit.pk, outcome, 1000 * (segmented - started), 1000 * (time.perf_counter() - segmented),
    )  # fmt: skip
    return outcome


def _store(edit: MaskEdit, candidates: list[dict[str, Any]], segmenter: str) -> str:
    with transaction.atomic():
        _lock_sample(edit.sample_id)
        if is_edit_stale(edit=edit):
            return STALE if _finish(edit, MaskEdit.Status.STALE) else SKIPPED
        if not _finish(
            edit, MaskEdit.Status.DONE, candidates=candidates, chosen=0, segmenter=segmenter
        ):
            return SKIPPED  # a newer claim took over meanwhile; its result counts
        # Not stale: no newer edit stands, so this one is the shown one now.
        edit.candidates, edit.chosen, edit.segmenter = candidates, 0, segmenter
        write_person_region(sample_id=edit.sample_id, role=edit.role, shown=edit)
    return DONE


def prepare_embedding(*, sample_id: int) -> bool | None:
    """Compute and cache the image's embedding unless cached; True: it was cached already.
    None when there is nothing to prepare (unknown sample, or a segmenter without embeddings)."""
    segmenter = get_segmenter()
    sample = Sample.objects.select_related("dataset").defer("des").filter(pk=sample_id).first()
    if sample is None or not segmenter.needs_embedding:
        return None
    return segmenter.prepare(image=load_sample_image(sample=sample), image_key=image_key(sample))


def segment_sample_regions(*, sample_id: int) -> int:
    """Give every boxed region of the sample that has no mask the segmenter's mask for its box.

    Idempotent: a region is written only while its mask is still NULL. Returns how many
    regions got a mask.
    """
    regions = list(boxes_without_masks(sample_id=sample_id))
    if not regions:
        return 0
    sample = Sample.objects.select_related("dataset").defer("des").get(pk=sample_id)
    segmenter = get_segmenter()
    image = load_sample_image(sample=sample)
    written = 0
    for region in regions:
        candidates = segmenter.segment(
            image=image,
            image_key=image_key(sample),
            prompt=Prompt(box=_clipped_box(region, sample)),
            multimask=False,
        )
        best = candidates[0]
        written += Region.objects.filter(pk=region.pk, mask__isnull=True).update(
            mask=encode_mask(best.mask),
            segmenter=segmenter.name,
            score=round(best.score, 4),
            updated_at=timezone.now(),
        )
    return written


def _clipped_box(region: Region, sample: Sample) -> tuple[float, float, float, float]:
    box = region.box or [0.0, 0.0, float(sample.width), float(sample.height)]
    xs = sorted(min(max(v, 0.0), float(sample.width)) for v in (box[0], box[2]))
    ys = sorted(min(max(v, 0.0), float(sample.height)) for v in (box[1], box[3]))
    return (xs[0], ys[0], xs[1], ys[1])
