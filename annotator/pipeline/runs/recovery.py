"""Send again what a dead worker or an absent broker left behind (the re-send check).

- a running unit whose lease lapsed (its worker died): pending again, due to be sent;
- a unit due to be sent that the broker never took (it was down): sent now;
- with `lost_messages`, a pending unit sent long ago whose queue is empty: its message was lost
  (say, with the broker's data), so it is sent again.

A run that waits for the broker (pending: its first units could not be sent) runs once they
are. Celery beat runs this for every active run; the run's progress page for its own run.
Duplicates are harmless: a unit is claimed once (runs/claim.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotator.models import PipelineRun, StageResult
from annotator.pipeline.runs.dispatch import BROKER_ERRORS, publish_units, queue_lengths
from annotator.pipeline.runs.execution import finish_run_if_complete, mark_due
from annotator.pipeline.runs.units import PENDING, QUEUES, RUNNING, STAGES, UnitRef

# The publish right after a commit clears send_due within milliseconds: leave it that long.
SEND_GRACE = timedelta(seconds=5)
ACTIVE = (PipelineRun.Status.PENDING, PipelineRun.Status.RUNNING)


@dataclass
class Resent:
    released: int = 0  # claims whose lease lapsed, let go
    sent: int = 0  # units handed to the broker again
    unsent: int = 0  # units the broker would still not take
    started: int = 0  # runs that waited for the broker and now run


def resend_stuck_units(
    *,
    run_ids: list[int] | None = None,
    lost_messages: bool = False,
    now: datetime | None = None,
    batch: int = 1000,
) -> Resent:
    """One pass over the active runs (or these); at most `batch` units sent per pass."""
    now = now or timezone.now()
    runs = PipelineRun.objects.filter(status__in=ACTIVE, cancel_requested=False)
    active = list(runs.filter(pk__in=run_ids) if run_ids is not None else runs)
    if not active:
        return Resent()
    ids = [run.pk for run in active]
    released = release_lapsed_claims(run_ids=ids, now=now)
    report = Resent(released=len(released))
    refs = released + _due_units(ids, now, batch, skip={ref.id for ref in released})
    if lost_messages and len(refs) < batch:
        refs += _lost_units(ids, now, batch - len(refs))
    if refs:
        sent = publish_units(refs)
        left = StageResult.objects.filter(pk__in=[r.id for r in refs], send_due__isnull=False)
        report.unsent = left.count() if not sent else 0
        report.sent = len(refs) - report.unsent
    report.started = _start_waiting_runs(ids)
    for run in active:
        if run.status == PipelineRun.Status.RUNNING:
            finish_run_if_complete(run_id=run.pk)
    return report


def release_lapsed_claims(*, run_ids: list[int], now: datetime) -> list[UnitRef]:
    """Running units whose lease lapsed go back to pending, due to be sent (now)."""
    lapsed = StageResult.objects.filter(
        run_id__in=run_ids, stage__in=STAGES, status=RUNNING, lease_until__lt=now
    )
    refs = [UnitRef(pk, stage) for pk, stage in lapsed.values_list("id", "stage")]
    if refs:  # the same conditions again: a holder that renewed meanwhile keeps its unit
        lapsed.filter(pk__in=[ref.id for ref in refs]).update(
            status=PENDING, claimed_by="", lease_until=None, send_due=now
        )
    return refs


def _due_units(run_ids: list[int], now: datetime, limit: int, skip: set[int]) -> list[UnitRef]:
    rows = (
        StageResult.objects.filter(
            send_due__lt=now - SEND_GRACE, status=PENDING, run_id__in=run_ids
        )
        .order_by("send_due", "id")
        .values_list("id", "stage")[:limit]
    )
    return [UnitRef(pk, stage) for pk, stage in rows if pk not in skip]


def _lost_units(run_ids: list[int], now: datetime, limit: int) -> list[UnitRef]:
    """Pending units sent long ago, of stages whose queue is empty (Redis only)."""
    try:
        lengths = queue_lengths(sorted(set(QUEUES.values())))
    except BROKER_ERRORS:
        return []
    if lengths is None:
        return []
    stages = [stage for stage, queue in QUEUES.items() if lengths.get(queue) == 0]
    before = now - timedelta(seconds=settings.PIPELINE_RESEND_SENT_AFTER_SECONDS)
    rows = StageResult.objects.filter(
        run_id__in=run_ids, stage__in=stages, status=PENDING, send_due__isnull=True,
        sent_at__lt=before,
    ).values_list("id", "stage")[:limit]  # fmt: skip
    refs = [UnitRef(pk, stage) for pk, stage in rows]
    mark_due([ref.id for ref in refs])
    return refs


def _start_waiting_runs(run_ids: list[int]) -> int:
    """Runs that waited for the broker run once none of their units waits to be sent."""
    waiting = StageResult.objects.filter(
        run_id=OuterRef("pk"), status=PENDING, send_due__isnull=False
    )
    return (
        PipelineRun.objects.filter(pk__in=run_ids, status=PipelineRun.Status.PENDING)
        .exclude(Exists(waiting))
        .update(status=PipelineRun.Status.RUNNING)
    )
