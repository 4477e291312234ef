"""Celery tasks of the review app: click-to-refine masks, sent to the gpu queue by
review/services/masks.py (apply_async(queue="gpu", priority=...)).

Each task parses its JSON arguments and calls a service; the services are imported inside the
bodies so that the web process (which imports this module through autodiscovery) never loads the
model stack. acks_late and reject-on-worker-lost come from annotator/celery.py: a worker killed
mid-task leaves its message unacknowledged and its claim to lapse (review/services/mask_worker.py);
a redelivered or re-sent message (resend_stuck_mask_edits, beat) then recomputes the edit.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

# A locked SQLite file or a dropped PostgreSQL connection is worth another try; a bug is not.
TRANSIENT = (OperationalError, InterfaceError)
# Every job task retries those alone, backing off up to 30 s, five times.
RETRY_TRANSIENT: dict[str, Any] = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": 5,
}


@shared_task(
    bind=True,
    name="review.compute_mask_edit",
    **RETRY_TRANSIENT,
)
def compute_mask_edit(self: Task, edit_id: int) -> str:
    """Run the segmenter on one saved click; safe to deliver twice."""
    from review.services.mask_worker import compute_mask_edit as compute

    # Inline (no broker) there is no other worker to take a lapsed claim: no lease to renew.
    return compute(edit_id=int(edit_id), heartbeat=not self.request.is_eager)


@shared_task(name="review.resend_stuck_mask_edits", ignore_result=True)
def resend_stuck_mask_edits() -> int:
    """Beat: send again the clicks the broker never took and those a dead worker left."""
    from review.services.mask_dispatch import resend_stuck_mask_edits as resend

    return resend()


@shared_task(
    name="review.prefetch_embedding",
    **RETRY_TRANSIENT,
)
def prefetch_embedding(sample_id: int) -> bool | None:
    """Compute and cache one image's embedding (a no-op when cached)."""
    from review.services.mask_worker import prepare_embedding

    return prepare_embedding(sample_id=int(sample_id))


@shared_task(
    name="review.segment_sample_regions",
    **RETRY_TRANSIENT,
)
def segment_sample_regions(sample_id: int) -> int:
    """Masks for the sample's boxed regions that have none (imported boxes)."""
    from review.services.mask_worker import segment_sample_regions as segment

    return segment(sample_id=int(sample_id))


@shared_task(
    name="review.run_export_job",
    **RETRY_TRANSIENT,
)
def run_export_job(job_id: int) -> str:
    """Write one export job's files (default queue); safe to deliver twice: the claim makes a
    second delivery a no-op while the first runs, and a takeover once its worker is dead."""
    from review.services.export_jobs import run_export_job as run

    return run(job_id=int(job_id))


@shared_task(name="review.resend_stuck_export_jobs", ignore_result=True)
def resend_stuck_export_jobs() -> int:
    """Beat: send again the export jobs the broker never took and those a dead worker left."""
    from review.services.export_jobs import resend_stuck_export_jobs as resend

    return resend()


@shared_task(
    name="review.compute_des_map",
    **RETRY_TRANSIENT,
)
def compute_des_map(map_id: int) -> str:
    """Project a dataset's DES to 2-D (default queue); the claim makes a redelivery a no-op."""
    from review.services.des_map import compute_des_map as compute

    return compute(map_id=int(map_id))


@shared_task(
    name="review.fit_consensus",
    **RETRY_TRANSIENT,
)
def fit_consensus(fit_id: int) -> str:
    """Fit one latent-class consensus (default queue); the claim makes a redelivery a no-op."""
    from review.services.latent_jobs import run_consensus_fit

    return run_consensus_fit(fit_id=int(fit_id))


@shared_task(name="review.refit_stale_consensus", ignore_result=True)
def refit_stale_consensus() -> int:
    """Beat: refit datasets where people answered since the last fit (at most every N minutes)."""
    from review.services.latent_refit import refit_stale_consensus as refit

    return refit()
