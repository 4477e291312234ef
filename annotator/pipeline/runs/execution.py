"""Run one unit: claim it, compute its stage, record the result, pick the units that follow.

Transport-free: a Celery task and the in-process runner both call `execute_unit` and dispatch
the units it returns. Idempotent: a unit is claimed with a conditional UPDATE (pending ->
running, and only while its run is not cancelled), so a redelivered or duplicated message finds
nothing to do. The next stage of a sample is chosen in the transaction that records the unit,
with the sample's row locked, so when parallel units (one per annotator) finish together exactly
one of them starts the next stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from annotator.models import PipelineRun, Sample, StageResult
from annotator.pipeline.errors import ModelError, PipelineConfigError, TransientModelError
from annotator.pipeline.retry import retry_delay
from annotator.pipeline.runs.config_store import run_config
from annotator.pipeline.runs.context import Computed, StageFailed, UnitContext
from annotator.pipeline.runs.stages import STAGE_FUNCTIONS, stage_endpoint_retries
from annotator.pipeline.runs.units import (
    DONE,
    FAILED,
    ORDER,
    PENDING,
    RUNNING,
    SKIPPED,
    UnitRef,
)
from annotator.selectors.pipeline_runs import run_is_unfinished

logger = logging.getLogger(__name__)
# A unit still "running" after this long lost its worker (killed without redelivery): retake it.
STALE_CLAIM = timedelta(minutes=30)
ERROR_MAX = 2000


@dataclass(frozen=True)
class UnitOutcome:
    status: str  # done, failed, skipped, retry, or "idle" when there was nothing to claim
    next_units: list[UnitRef] = field(default_factory=list)
    retry_in: float | None = None


def claim_unit(*, unit_id: int, takeover: bool = False) -> StageResult | None:
    """Mark the unit running and return it (with run and sample loaded), or None when it is not
    pending, its run is cancelled, or it is gone. `takeover`: also retake a running unit (the
    broker redelivered its message: the worker that had it died)."""
    now = timezone.now()
    claimable = Q(status=PENDING) | Q(status=RUNNING, claimed_at__lt=now - STALE_CLAIM)
    if takeover:
        claimable |= Q(status=RUNNING)
    live = PipelineRun.objects.filter(pk=OuterRef("run_id"), cancel_requested=False)
    claimed = StageResult.objects.filter(claimable, Exists(live), pk=unit_id).update(
        status=RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return (
        StageResult.objects.select_related("run", "sample__dataset__taxonomy")
        .defer("sample__des")
        .get(pk=unit_id)
    )


def execute_unit(*, unit_id: int, takeover: bool = False) -> UnitOutcome:
    unit = claim_unit(unit_id=unit_id, takeover=takeover)
    if unit is None or unit.run is None:
        return UnitOutcome("idle")
    ctx = UnitContext(unit=unit, config=run_config(data=unit.run.config))
    try:
        result: Computed | str = STAGE_FUNCTIONS[unit.stage](ctx)
    except TransientModelError as exc:
        if unit.attempts <= stage_endpoint_retries(ctx):
            return _retry_later(unit, exc)
        result = f"gave up after {unit.attempts} attempts: {exc}"
    except (ModelError, PipelineConfigError, StageFailed) as exc:
        result = str(exc)
    except Exception as exc:  # a bug or a broken file fails this unit, not the run
        logger.exception("pipeline unit %s (%s) failed", unit.pk, unit.stage)
        result = f"{type(exc).__name__}: {exc}"
    next_units, status = finish_unit(ctx, result)
    if not next_units:
        finish_run_if_complete(run_id=unit.run.pk)
    return UnitOutcome(status, next_units)


def _retry_later(unit: StageResult, exc: TransientModelError) -> UnitOutcome:
    delay = retry_delay(attempt=unit.attempts - 1, retry_after=exc.retry_after)
    message = f"attempt {unit.attempts}: {exc} (retrying in {delay:.1f} s)"
    StageResult.objects.filter(pk=unit.pk, status=RUNNING).update(
        status=PENDING, error=message[:ERROR_MAX]
    )
    return UnitOutcome("retry", retry_in=delay)


def finish_unit(ctx: UnitContext, result: Computed | str) -> tuple[list[UnitRef], str]:
    """Record the unit (a Computed, or an error message) and return the units to start next."""
    unit = ctx.unit
    with transaction.atomic():
        # The lock serialises the units of one sample: the last to finish sees all finished.
        status = (
            Sample.objects.select_for_update(of=("self",))
            .filter(pk=unit.sample_id)
            .values_list("status", flat=True)
            .first()
        )
        extra: list[UnitRef] = []
        values: dict[str, object]
        if status is None:
            values = {"status": FAILED, "error": "the sample was deleted"}
        elif isinstance(result, str):
            values = {"status": FAILED, "error": result[:ERROR_MAX]}
        else:
            extra = result.write(status) if result.write is not None else []
            values = {
                "status": SKIPPED if result.skipped else DONE,
                "error": "",
                "output": result.output,
                "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                "latency_ms": result.latency_ms,
            }
        StageResult.objects.filter(pk=unit.pk).update(finished_at=timezone.now(), **values)
        following = _advance(unit) if status is not None else []
    return [*following, *extra], str(values["status"])


def _advance(unit: StageResult) -> list[UnitRef]:
    """The next stage's units of this sample and round, once every unit of this stage is final;
    after a failure, the later stages are skipped (with the reason) instead."""
    rows = list(
        StageResult.objects.filter(
            run_id=unit.run_id, sample_id=unit.sample_id, round=unit.round
        ).values_list("id", "stage", "status")
    )
    here = [status for _, stage, status in rows if stage == unit.stage]
    if any(status in (PENDING, RUNNING) for status in here):
        return []  # a sibling is still at work; it will advance the sample
    later = [
        (pk, stage)
        for pk, stage, status in rows
        if ORDER[stage] > ORDER[unit.stage] and status == PENDING
    ]
    if not later:
        return []
    if FAILED in here:
        StageResult.objects.filter(pk__in=[pk for pk, _ in later]).update(
            status=SKIPPED, error=f"not run: {unit.stage} failed", finished_at=timezone.now()
        )
        return []
    first = min(ORDER[stage] for _, stage in later)
    return [UnitRef(pk, stage) for pk, stage in later if ORDER[stage] == first]


def finish_run_if_complete(*, run_id: int) -> bool:
    """Mark a running run done when no unit is pending or running. Called after the unit's
    commit, so the last unit to finish sees every other one finished."""
    if run_is_unfinished(run_id=run_id):
        return False
    return bool(
        PipelineRun.objects.filter(pk=run_id, status=PipelineRun.Status.RUNNING).update(
            status=PipelineRun.Status.DONE, finished_at=timezone.now()
        )
    )
