"""Handing mask work to the gpu queue without losing it when the broker or a worker goes away.

A click is saved before anything is sent: its MaskEdit row is its own outbox entry. Publishing
after commit may fail (broker unreachable): the failure is recorded on the row (send_error), the
request goes on, and the page says the workers are unreachable. Edits the broker never took, and
edits a dead worker left "running" past its claim's lease, are sent again from the database by
resend_stuck_mask_edits() (Celery beat, review.resend_stuck_mask_edits) and by each poll of a
page waiting for one (resend_mask_edit_if_stuck). A re-sent edit that turns out not to be stuck
costs its worker one query: the claim (review/services/mask_worker.py) makes it a no-op.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import Retry
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from review import tasks
from review.models import MaskEdit
from review.selectors.masks import RETRYING_PREFIX

logger = logging.getLogger(__name__)

GPU_QUEUE = "gpu"
# Redis serves priority 0 first: a click never waits behind prefetching (docs/performance.md).
PRIORITY_CLICK = 0
PRIORITY_OPEN_SAMPLE = 3
PRIORITY_REGIONS = 6
PRIORITY_UPCOMING = 9

# Publishing fails with these when the broker is unreachable (kombu wraps most of them).
PUBLISH_ERRORS = (KombuOperationalError, RedisError, OSError)
# After a failed publish this process sends nothing for a few seconds: one page render or poll
# waits for the connect timeout once, not once per task.
UNREACHABLE_PAUSE_SECONDS = 3.0
# A failed send is tried again this often (by the polls and the sweep).
RETRY_SEND_SECONDS = 3.0
# A pending edit the broker took but no worker claimed for this many leases is sent again (its
# message may be lost: a broker restarted without persistence, a purge); a duplicate is a no-op.
LOST_AFTER_LEASES = 3
# Sweeps send at most this many edits each; the rest go next time.
SWEEP_LIMIT = 200
_UNFINISHED = (MaskEdit.Status.PENDING, MaskEdit.Status.RUNNING)


class _Breaker:
    """Whether this process saw the broker unreachable in the last few seconds, and why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._reason = ""

    def reason_to_skip(self) -> str:
        with self._lock:
            return self._reason if time.monotonic() < self._open_until else ""

    def trip(self, reason: str) -> None:
        with self._lock:
            self._open_until = time.monotonic() + UNREACHABLE_PAUSE_SECONDS
            self._reason = reason

    def reset(self) -> None:
        with self._lock:
            self._open_until, self._reason = 0.0, ""


breaker = _Breaker()


def publish(task: Any, *, args: Sequence[Any], priority: int) -> str:
    """Send `task` to the gpu queue; "" when the broker took it, else why not. Never raises
    for an unreachable broker: the caller records it, the request goes on."""
    skipped = breaker.reason_to_skip()
    if skipped:
        return skipped
    try:
        task.apply_async(args=tuple(args), queue=GPU_QUEUE, priority=priority)
    except Retry as exc:
        # In-process tasks (no broker) propagate a transient error's retry to the sender:
        # the work did not happen, so it counts as not sent and the next poll or sweep sends
        # it again. The broker is not at fault: the breaker stays closed.
        reason = f"{RETRYING_PREFIX}{exc.exc or exc}"[:500]
        logger.warning("%s%s ran in-process and must retry: %s", task.name, list(args), reason)
        return reason
    except PUBLISH_ERRORS as exc:
        reason = f"broker unreachable: {exc}"[:500]
        logger.warning("%s%s not sent: %s", task.name, list(args), reason)
        breaker.trip(reason)
        return reason
    return ""


def send_mask_edit(*, edit_id: int) -> bool:
    """Queue a saved edit (after its commit); False when the broker did not take it, which
    is recorded on the edit for the page and for the re-send."""
    error = publish(tasks.compute_mask_edit, args=(edit_id,), priority=PRIORITY_CLICK)
    if error:
        MaskEdit.objects.filter(pk=edit_id, status=MaskEdit.Status.PENDING).update(
            send_error=error, sent_at=timezone.now()
        )
        return False
    return True


def publish_each(task: Any, sample_ids: Sequence[int], *, priority: int) -> int:
    """Background work (prefetch, box masks): sent while the broker answers, else dropped with
    a warning (the next page open asks again). Returns how many were sent."""
    for sent, pk in enumerate(sample_ids):
        if publish(task, args=(pk,), priority=priority):
            return sent
    return len(sample_ids)


def _stuck(now: datetime) -> Q:
    """Unfinished edits that no message is on its way for."""
    lease = timedelta(seconds=settings.MASK_CLAIM_LEASE_SECONDS)
    pending = Q(status=MaskEdit.Status.PENDING) & (
        Q(sent_at=None)  # saved, never sent (the process died before its commit hook ran)
        | (~Q(send_error="") & Q(sent_at__lt=now - timedelta(seconds=RETRY_SEND_SECONDS)))
        | Q(send_error="", sent_at__lt=now - LOST_AFTER_LEASES * lease)
    )
    expired = Q(status=MaskEdit.Status.RUNNING) & (
        Q(lease_until__lt=now) | Q(lease_until=None, started_at__lt=now - lease)
    )
    # A running edit is re-sent once per lease: its new message needs time to be claimed.
    running = expired & (Q(sent_at=None) | Q(sent_at__lt=now - lease))
    return pending | running


def resend_mask_edit_if_stuck(*, edit_id: int, now: datetime | None = None) -> bool:
    """Send the edit again if it is stuck (the broker never took it, or its worker died);
    True when it was sent now. One conditional UPDATE when it is not stuck."""
    now = now or timezone.now()
    unfinished = MaskEdit.objects.filter(status__in=_UNFINISHED, pk=edit_id)
    if not unfinished.filter(_stuck(now)).update(sent_at=now):
        return False  # not stuck, or another poll or sweep took it just now
    if not send_mask_edit(edit_id=edit_id):
        return False
    MaskEdit.objects.filter(pk=edit_id).exclude(send_error="").update(send_error="")
    logger.info("mask edit %s sent again", edit_id)
    return True


def resend_stuck_mask_edits(*, limit: int = SWEEP_LIMIT) -> int:
    """Send again every stuck edit (at most `limit`, oldest first); returns how many were sent.
    Beat runs it every few seconds; it stops at the first send the broker refuses."""
    now = timezone.now()
    stuck = MaskEdit.objects.filter(status__in=_UNFINISHED).filter(_stuck(now))
    sent = 0
    for edit_id in stuck.order_by("pk").values_list("pk", flat=True)[:limit]:
        if resend_mask_edit_if_stuck(edit_id=edit_id, now=now):
            sent += 1
        elif breaker.reason_to_skip():
            break
    return sent
