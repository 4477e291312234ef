"""Computing a dataset's DES map as a job: ask for it, send it, claim it, compute, store.

A map is asked for (request_des_map) when the page finds none, when the DES count changed
(samples were added or removed), or when someone presses "Recompute"; asking again while one is
pending or running returns that one. It runs on the default queue (review.tasks.compute_des_map)
or, without a broker, in a thread of this process (inline inside a caller's transaction: a
test). The worker claims it with a conditional UPDATE (pending, or running under a lapsed
lease), so a redelivered message computes it at most once at a time, and stores the result with
an UPDATE conditional on its own claim: a retaken job's late first worker writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset
from review.models_desmap import DesMap
from review.selectors.des_map import (
    MapState,
    count_from_cache_key,
    des_cache_key,
    des_map_state,
)
from review.selectors.snapshot import consistent_snapshot
from review.services import des_map_changes
from review.services.des_map_projection import (
    UMAP_MISSING,
    DesMapError,
    des_chunks,
    pca_points,
    umap_installed,
    umap_points,
)
from review.services.des_map_store import pack_points
from review.services.mask_dispatch import PUBLISH_ERRORS
from review.services.mask_worker import worker_name

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
LEASE = timedelta(minutes=15)  # a 219K PCA takes well under a minute; a dead worker's lapses
UNFINISHED = (DesMap.Status.PENDING, DesMap.Status.RUNNING)
COMPUTE = {DesMap.Method.PCA: pca_points, DesMap.Method.UMAP: umap_points}


def missing_extra(*, method: str) -> str:
    """What this process lacks to compute a map of `method` ("" when nothing)."""
    return UMAP_MISSING if method == DesMap.Method.UMAP and not umap_installed() else ""


def request_des_map(*, dataset: Dataset, method: str, user: Any = None) -> DesMap:
    """The dataset's pending or running map of `method`, or a new one sent to a worker once
    the transaction commits. One that waited past its lease (its worker or message lost) is
    sent again."""
    if method not in COMPUTE:
        raise DesMapError(f"unknown map method: {method}")
    if missing := missing_extra(method=method):
        raise DesMapError(missing)  # a job that could only fail
    with transaction.atomic():
        waiting = (
            DesMap.objects.select_for_update()
            .filter(dataset=dataset, method=method, status__in=UNFINISHED)
            .order_by("-id")
            .first()
        )
        if waiting is not None:
            if _lapsed(waiting):
                transaction.on_commit(partial(send_des_map, map_id=waiting.pk))
            return waiting
        des_map = DesMap.objects.create(
            dataset=dataset,
            method=method,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            cache_key=des_cache_key(dataset_id=dataset.pk),
        )
        transaction.on_commit(partial(send_des_map, map_id=des_map.pk))
    return des_map


def ensure_des_map(*, dataset: Dataset, method: str, user: Any = None) -> MapState:
    """Ask for a map when the page has none to draw, or when samples with a DES were added or
    removed since the drawn one (vectors rewritten in place only offer "Recompute": a 219K map
    costs a worker half a minute). Returns what the page
    shows: the drawn map, the one computing, the last failure."""
    state = des_map_state(dataset_id=dataset.pk, method=method)
    if state.waiting is not None or not state.with_des or state.failed is not None:
        return state  # a failure: the page shows the error and a "Recompute" button
    if missing_extra(method=method):
        return state  # the page says what to install
    drawn = state.done
    if drawn is None or count_from_cache_key(drawn.cache_key) != state.with_des:
        waiting = request_des_map(dataset=dataset, method=method, user=user)
        return replace(state, waiting=waiting)
    return state


def _lapsed(des_map: DesMap) -> bool:
    now = timezone.now()
    if des_map.status == DesMap.Status.RUNNING:
        return des_map.lease_until is None or des_map.lease_until < now
    return des_map.created_at < now - LEASE  # pending that long: its message was lost


def send_des_map(*, map_id: int) -> bool:
    """Hand the map to a worker; without a broker run it in this process. False when the
    broker did not take it (the next request of the page sends it again, after the lease)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if connection.in_atomic_block:  # a test's transaction: a thread could not see the row
            compute_des_map(map_id=map_id)
        else:
            _run_in_thread(map_id=map_id)
        return True
    from review import tasks

    try:
        tasks.compute_des_map.apply_async(args=(map_id,), queue=DEFAULT_QUEUE)
    except PUBLISH_ERRORS as exc:
        logger.warning("DES map %s not sent: %s", map_id, exc)
        return False
    return True


def _run_in_thread(*, map_id: int) -> threading.Thread:
    def target() -> None:
        try:
            compute_des_map(map_id=map_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name=f"des-map-{map_id}", daemon=True)
    thread.start()
    return thread


def claim_des_map(*, map_id: int) -> DesMap | None:
    """Take the map for this process; None when it is done, failed or held by a live claim."""
    now = timezone.now()
    running = Q(status=DesMap.Status.RUNNING) & (Q(lease_until__lt=now) | Q(lease_until=None))
    claimable = Q(status=DesMap.Status.PENDING) | running
    claimed = (
        DesMap.objects.filter(pk=map_id)
        .filter(claimable)
        .update(
            status=DesMap.Status.RUNNING,
            claimed_by=worker_name(),
            started_at=now,
            lease_until=now + LEASE,
            error="",
        )
    )
    return DesMap.objects.get(pk=map_id) if claimed else None


def compute_des_map(*, map_id: int) -> str:
    """The task's body: claim, project, store. Returns what happened ("done", "failed",
    "skipped" when another worker holds it or it had already ended)."""
    des_map = claim_des_map(map_id=map_id)
    if des_map is None:
        return "skipped"
    des_map_changes.compact()  # PostgreSQL's change rows, folded while a map is computed
    started = time.perf_counter()
    try:
        with consistent_snapshot():  # both passes read the same samples
            key = des_cache_key(dataset_id=des_map.dataset_id)
            source = partial(des_chunks, dataset_id=des_map.dataset_id)
            points, explained = COMPUTE[DesMap.Method(des_map.method)](source)
    except DesMapError as exc:
        return _finish(des_map, status=DesMap.Status.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("DES map %s failed", map_id)
        return _finish(des_map, status=DesMap.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    return _finish(
        des_map,
        status=DesMap.Status.DONE,
        cache_key=key,
        n_points=len(points),
        points=pack_points(points),
        explained=explained,
        seconds=time.perf_counter() - started,
    )


def _finish(des_map: DesMap, *, status: str, **fields: Any) -> str:
    """Store the outcome if the claim is still ours (a retaken map's first worker writes
    nothing)."""
    written = DesMap.objects.filter(
        pk=des_map.pk, status=DesMap.Status.RUNNING, claimed_by=des_map.claimed_by,
        started_at=des_map.started_at,
    ).update(status=status, computed_at=timezone.now(), lease_until=None, **fields)  # fmt: skip
    return str(status) if written else "skipped"
