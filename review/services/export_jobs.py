"""Export jobs: an export started from the page or the API runs in the background and counts
its progress in the database; its files stay under EXPORT_ROOT/<job id>/ for download.

- start_export_job saves the job and, once that commits, sends `review.run_export_job` to the
  default queue (the job row is its own outbox: sent_at, send_error). Without a broker (the
  demo) a thread of this process runs it, as the Runs page does for pipeline runs.
- run_export_job is what the task calls (review/services/export_job_runner.py): claim, write,
  record. A killed worker's job is retaken once its lease lapses and written again.
- resend_stuck_export_jobs (Celery beat, review.resend_stuck_export_jobs) and the progress
  poll (resend_export_job_if_stuck) send again jobs the broker never took and jobs a dead
  worker left running: the same outbox sweep as review/services/mask_dispatch.py's.
- cancel_export_job stops a job; its worker notices at its next progress write.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset
from review import policy
from review.models import ExportJob
from review.selectors.export import SCOPE_ALL, SCOPES
from review.services.export_formats import FORMATS
from review.services.export_job_runner import ANSWER_FORMATS, execute_export_job
from review.services.export_posterior import LABEL_FROM
from review.services.mask_dispatch import PUBLISH_ERRORS

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
UNFINISHED = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)
RETRY_SEND_SECONDS = 5.0  # a failed send is tried again after this long
NEVER_SENT_SECONDS = 5.0  # a pending job with no send recorded this long after it was made
LOST_AFTER_LEASES = 3  # a pending job the broker took but no worker claimed: sent again
SWEEP_LIMIT = 100
LOCAL_RETRIES = 5  # the in-process runner's tries on a locked SQLite file
OPTION_NAMES = ("formula_guard", "embed_images", "label_from")


class ExportJobError(ValueError):
    """A job that cannot be started: the message names the field."""


def run_export_job(*, job_id: int) -> str:
    """Run one job (the task's body): "done", "failed", "cancelled" or "skipped"."""
    return execute_export_job(job_id=job_id)


def _check_admin(user: Any) -> None:
    decision = policy.can_administer(user=user)
    if not decision:
        raise PermissionDenied(decision.reason or "Only admins can export.")


def _checked(*, kind: str, fmt: str, scope: str, options: dict[str, Any]) -> dict[str, Any]:
    """The job's fields after checking them; ExportJobError naming the first bad one."""
    if kind not in ExportJob.Kind.values:
        raise ExportJobError(f"kind: {kind!r} is not one of {', '.join(ExportJob.Kind.values)}")
    formats = ANSWER_FORMATS if kind == ExportJob.Kind.ANSWERS else tuple(FORMATS)
    if fmt not in formats:
        raise ExportJobError(f"fmt: {fmt!r} is not one of {', '.join(formats)} for {kind}")
    if kind == ExportJob.Kind.ANSWERS:
        scope = SCOPE_ALL  # every answer: the scope is about samples' labels
    elif scope not in SCOPES:
        raise ExportJobError(f"scope: {scope!r} is not one of {', '.join(SCOPES)}")
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ExportJobError(f"options: unknown {', '.join(unknown)}")
    for name, value in options.items():
        if name == "label_from":
            if value not in LABEL_FROM:
                raise ExportJobError(f"options: label_from must be one of {', '.join(LABEL_FROM)}")
        elif not isinstance(value, bool):
            raise ExportJobError(f"options: {name} must be true or false")
    chosen = {"formula_guard": True, "embed_images": False} | options
    return {"kind": kind, "fmt": fmt, "scope": scope, "options": chosen}


def start_export_job(
    *,
    user: Any,
    dataset: Dataset,
    kind: str,
    fmt: str,
    scope: str,
    options: dict[str, Any] | None = None,
) -> ExportJob:
    """Save a pending job and send it once the transaction commits. PermissionDenied for
    non-admins, ExportJobError for a bad kind, format, scope or option."""
    _check_admin(user)
    fields = _checked(kind=kind, fmt=fmt, scope=scope, options=dict(options or {}))
    with transaction.atomic():
        job = ExportJob.objects.create(dataset=dataset, created_by=user, **fields)
        transaction.on_commit(partial(send_export_job, job_id=job.pk))
    return job


def cancel_export_job(*, job: ExportJob, user: Any) -> bool:
    """Cancel a pending or running job; False when it had already ended."""
    _check_admin(user)
    cancelled = ExportJob.objects.filter(pk=job.pk, status__in=UNFINISHED).update(
        status=ExportJob.Status.CANCELLED, finished_at=timezone.now(), lease_until=None
    )
    job.refresh_from_db()
    return bool(cancelled)


def uses_broker() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER


def send_export_job(*, job_id: int) -> bool:
    """Hand the job to a worker (or, without a broker, to a thread of this process); False
    when the broker did not take it (recorded on the job for the re-send)."""
    now = timezone.now()
    if not uses_broker():
        ExportJob.objects.filter(pk=job_id).update(sent_at=now, send_error="")
        run_in_background(job_id=job_id)
        return True
    from review import tasks

    try:
        tasks.run_export_job.apply_async(args=(job_id,), queue=DEFAULT_QUEUE)
    except PUBLISH_ERRORS as exc:
        error = f"broker unreachable: {exc}"[:500]
        logger.warning("export job %s not sent: %s", job_id, error)
        ExportJob.objects.filter(pk=job_id).update(sent_at=now, send_error=error)
        return False
    ExportJob.objects.filter(pk=job_id).update(sent_at=now, send_error="")
    return True


def run_in_background(*, job_id: int) -> threading.Thread:
    """The embedded default's way (no broker): a daemon thread runs the job. It ends with the
    process; the job's lease then lapses and a poll of its page starts it again."""

    def target() -> None:
        try:
            for attempt in range(LOCAL_RETRIES):
                try:
                    run_export_job(job_id=job_id)
                    return
                except OperationalError as exc:  # a locked SQLite file: try again shortly
                    logger.warning("export job %s: database busy (%s)", job_id, exc)
                    time.sleep(1.0 + attempt)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name=f"export-job-{job_id}", daemon=True)
    thread.start()
    return thread


def _stuck(now: Any) -> Q:
    """Unfinished jobs that no message (or thread) is on its way for."""
    lease = timedelta(seconds=settings.EXPORT_CLAIM_LEASE_SECONDS)
    pending = Q(status=ExportJob.Status.PENDING) & (
        Q(sent_at=None, created_at__lt=now - timedelta(seconds=NEVER_SENT_SECONDS))
        | (~Q(send_error="") & Q(sent_at__lt=now - timedelta(seconds=RETRY_SEND_SECONDS)))
        | Q(send_error="", sent_at__lt=now - LOST_AFTER_LEASES * lease)
    )
    expired = Q(status=ExportJob.Status.RUNNING) & (Q(lease_until__lt=now) | Q(lease_until=None))
    # Re-sent once per lease: the new message needs time to be claimed.
    running = expired & (Q(sent_at=None) | Q(sent_at__lt=now - lease))
    return pending | running


def _resend(*, job_id: int, now: Any) -> bool | None:
    """None when the job is not stuck (or another poll or sweep took it just now), else
    whether the broker took it again."""
    stuck = ExportJob.objects.filter(pk=job_id, status__in=UNFINISHED).filter(_stuck(now))
    if not stuck.update(sent_at=now):
        return None
    logger.info("export job %s sent again", job_id)
    return send_export_job(job_id=job_id)


def resend_export_job_if_stuck(*, job_id: int) -> bool:
    """Send the job again if it is stuck; True when it was sent now. One conditional UPDATE
    when it is not (the progress poll calls this)."""
    return bool(_resend(job_id=job_id, now=timezone.now()))


def resend_stuck_export_jobs(*, limit: int = SWEEP_LIMIT) -> int:
    """Beat: send again every stuck job (at most `limit`, oldest first); how many were sent.
    Stops at the first send the broker refuses: the rest wait for the next sweep."""
    now = timezone.now()
    stuck = ExportJob.objects.filter(status__in=UNFINISHED).filter(_stuck(now))
    sent = 0
    for job_id in stuck.order_by("pk").values_list("pk", flat=True)[:limit]:
        outcome = _resend(job_id=job_id, now=now)
        if outcome is False:
            break
        sent += bool(outcome)
    return sent
