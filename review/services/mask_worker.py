"""Click-to-refine masks, the worker side: compute an edit, prefetch an embedding, mask boxes.

Idempotent under redelivery (acks_late): an edit is claimed with a conditional UPDATE (pending,
or running under a claim whose worker is gone), its result is written once under the sample
lock, and staleness is checked before computing and again before storing: a result for an edit
that newer work superseded (the same person's later edit of the element, or an undo) is
discarded, never shown over it.

A claim names its worker process ("host:pid") and holds a lease of MASK_CLAIM_LEASE_SECONDS,
renewed while the edit computes. It is taken over when the lease has lapsed (a killed solo
worker: mask_dispatch sends the edit again) or when its process is gone from this host (a
killed prefork child: the redelivered message, at once). Segmentation runs on a bounded working
copy of the image (annotator/adapters/segmenters/working_copy.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotator.adapters.segmenters import MaskCandidate, Prompt, get_segmenter
from annotator.adapters.segmenters.working_copy import WorkImage, load_work_image
from annotator.models import Region, Sample
from annotator.processes import process_alive
from review.models import MaskEdit
from review.selectors.masks import boxes_without_masks, grounding_box, is_edit_stale
from review.selectors.samples import sample_image_path
from review.services.mask_wakeup import notify_mask_edit_finished
from review.services.masks import write_person_region
from review.services.sample_lock import lock_sample_for_mask_writes

logger = logging.getLogger(__name__)

DONE, STALE, FAILED, SKIPPED = "done", "stale", "failed", "skipped"


class _LastImage:
    """The worker's last working copy: consecutive clicks on one image skip decoding it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, float, int] | None = None
        self._image: WorkImage | None = None

    def load(self, path: Path) -> WorkImage:
        max_side = settings.MASK_WORK_MAX_SIDE
        key = (str(path), path.stat().st_mtime, max_side)
        with self._lock:
            if self._key == key and self._image is not None:
                return self._image
        work = load_work_image(path, max_side=max_side)
        with self._lock:
            self._key, self._image = key, work
        return work


_last_image = _LastImage()


def load_sample_image(*, sample: Sample) -> WorkImage:
    """The sample's image as a bounded working copy (HxWx3 uint8 RGB, long side at most
    MASK_WORK_MAX_SIDE); ValueError naming the file when it is missing."""
    path = sample_image_path(sample=sample)
    if path is None:
        raise ValueError(
            f"sample {sample.external_id}: image {sample.image_path!r} not found under "
            f"{sample.dataset.images_root or '(no images root)'}"
        )
    return _last_image.load(path)


def image_key(sample: Sample) -> str:
    return sample.content_hash or f"sample-{sample.pk}"


def worker_name() -> str:
    """This process as a claim names it: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.MASK_CLAIM_LEASE_SECONDS)


def _claimable(now: datetime, *, gone_owner: str = "") -> Q:
    """Pending, or running under a lapsed lease (or the claim of `gone_owner`, a dead process)."""
    running = Q(status=MaskEdit.Status.RUNNING)
    lapsed = Q(lease_until__lt=now) | Q(lease_until=None, started_at__lt=now - _lease())
    claimable = Q(status=MaskEdit.Status.PENDING) | (running & (lapsed | Q(started_at=None)))
    if gone_owner:
        claimable |= running & Q(claimed_by=gone_owner)
    return claimable


def owner_is_gone(claimed_by: str) -> bool:
    """Whether the process a claim names is known dead: on this host, and not running (a
    killed prefork child, whose task the pool redelivers at once). Other hosts' claims wait
    for their lease to lapse."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return not process_alive(int(pid))


def _claim_values(now: datetime) -> dict[str, Any]:
    return {
        "status": MaskEdit.Status.RUNNING,
        "started_at": now,
        "claimed_by": worker_name(),
        "lease_until": now + _lease(),
    }


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
    if not fresh.filter(~Exists(newer)).update(**_claim_values(now)):
        with transaction.atomic():
            row = MaskEdit.objects.filter(pk=edit_id).values_list("sample_id", "claimed_by")
            found = row.first()
            if found is None:
                return None, SKIPPED
            lock_sample_for_mask_writes(sample_id=found[0])
            gone = found[1] if found[1] and owner_is_gone(found[1]) else ""
            claimable = MaskEdit.objects.filter(_claimable(now, gone_owner=gone), pk=edit_id)
            if not claimable.update(**_claim_values(now)):
                return None, SKIPPED
            if gone:
                logger.warning("mask edit %s: taken over from %s (gone)", edit_id, gone)
            edit = MaskEdit.objects.get(pk=edit_id)
            if is_edit_stale(edit=edit):
                _finish(edit, MaskEdit.Status.STALE)
                return None, STALE
    return MaskEdit.objects.select_related("sample__dataset").get(pk=edit_id), ""


def _ours(edit: MaskEdit) -> Any:
    """The edit while it is still under this claim."""
    return MaskEdit.objects.filter(
        pk=edit.pk, status=MaskEdit.Status.RUNNING, started_at=edit.started_at
    )


def _finish(edit: MaskEdit, status: str, **values: Any) -> bool:
    """Write the outcome if `edit` is still ours (same claim); False when it was not."""
    updated = _ours(edit).update(
        status=status, finished_at=timezone.now(), lease_until=None, **values
    )
    return bool(updated)


class _Heartbeat:
    """Renews a claim's lease every third of it while the edit computes, from a thread of its
    own (the segmenter may hold the main one for seconds). Stops when the claim is lost."""

    def __init__(self, edit: MaskEdit) -> None:
        self._edit = edit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{edit.pk}", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = settings.MASK_CLAIM_LEASE_SECONDS / 3
        try:
            while not self._stop.wait(interval):
                if not _ours(self._edit).update(lease_until=timezone.now() + _lease()):
                    return  # taken over: our result will be discarded
        except DatabaseError as exc:  # the lease lapses; a takeover recomputes the edit
            logger.warning("mask edit %s: lease not renewed (%s)", self._edit.pk, exc)
        finally:
            connections.close_all()  # this thread's own connection


def prompt_of(edit: MaskEdit) -> Prompt:
    points = [(float(x), float(y)) for x, y, _ in edit.points]
    labels = [int(label) for _, _, label in edit.points]
    box = tuple(float(v) for v in edit.box) if edit.box else None
    hint = None if box else grounding_box(sample_id=edit.sample_id, role=edit.role)
    return Prompt(points=points, labels=labels, box=box, hint=hint)  # type: ignore[arg-type]


def encode_candidates(candidates: list[MaskCandidate], *, image: WorkImage) -> list[dict[str, Any]]:
    """The candidates as RLE at the image's own size, best first."""
    return [{"rle": image.encode(c.mask), "score": round(c.score, 4)} for c in candidates]


def compute_mask_edit(*, edit_id: int, heartbeat: bool = True) -> str:
    """Segment one edit's prompt and store the candidates; returns what happened:
    "done", "stale" (discarded), "failed" or "skipped" (not claimable: done, or another worker
    holds a live claim, or the edit is gone). `heartbeat`: renew the claim's lease while
    segmenting (off when run inline in a request, where no other worker could take over)."""
    edit, outcome = _claim(edit_id)
    if edit is None:
        if outcome == STALE:
            notify_mask_edit_finished(edit_id=edit_id)
        return outcome
    try:
        with _Heartbeat(edit) if heartbeat else contextlib.nullcontext():
            candidates = _segment_claimed(edit)
        if candidates is None:
            return FAILED
        return _store(edit, *candidates)
    except (OperationalError, InterfaceError):
        _release(edit)  # transient: the task's retry claims it again
        raise
    finally:
        notify_mask_edit_finished(edit_id=edit_id)


def _release(edit: MaskEdit) -> None:
    with contextlib.suppress(DatabaseError):
        _ours(edit).update(
            status=MaskEdit.Status.PENDING, started_at=None, claimed_by="", lease_until=None
        )


def _segment_claimed(edit: MaskEdit) -> tuple[list[dict[str, Any]], str] | None:
    """(the candidates as RLE, the segmenter's name); None when segmenting failed (stored)."""
    try:
        segmenter = get_segmenter()
        image = load_sample_image(sample=edit.sample)
        key = image.key(image_key(edit.sample))
        if segmenter.needs_embedding and not segmenter.is_prepared(image_key=key):
            # Seconds of encoding ahead: the waiting page says "preparing image…".
            MaskEdit.objects.filter(pk=edit.pk).update(preparing=True)
        started = time.perf_counter()
        prompt = image.prompt_in(prompt_of(edit))
        candidates = segmenter.segment(image=image.pixels, image_key=key, prompt=prompt)
        segmented = time.perf_counter()
        encoded = encode_candidates(candidates, image=image)
    except Exception as exc:
        # Not transient: a missing or unreadable image, a bad prompt, a misconfiguration, a
        # model error. The person sees the message and can undo or click again.
        logger.exception("mask edit %s failed", edit.pk)
        _finish(edit, MaskEdit.Status.FAILED, error=str(exc)[:2000])
        return None
    logger.info(
        "mask edit %s: segment %.1f ms, encode %.1f ms",
        edit.pk, 1000 * (segmented - started), 1000 * (time.perf_counter() - segmented),
    )  # fmt: skip
    return encoded, segmenter.name


def _store(edit: MaskEdit, candidates: list[dict[str, Any]], segmenter: str) -> str:
    with transaction.atomic():
        lock_sample_for_mask_writes(sample_id=edit.sample_id)
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
    image = load_sample_image(sample=sample)
    return segmenter.prepare(image=image.pixels, image_key=image.key(image_key(sample)))


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
            image=image.pixels,
            image_key=image.key(image_key(sample)),
            prompt=image.prompt_in(Prompt(box=_clipped_box(region, sample))),
            multimask=False,
        )
        best = candidates[0]
        written += Region.objects.filter(pk=region.pk, mask__isnull=True).update(
            mask=image.encode(best.mask),
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
