"""Run a chunk of units of one model stage together: one claim, concurrent calls, one write.

The per-unit grain (execution.execute_unit) pays a Celery message, a claim, a transaction and a
publish for every unit; at EmoVerse scale that, not the model, is the workers' CPU (issue 13
§5). A chunk claims its units in one conditional UPDATE (claim.claim_units: same leases and
cancel check as one unit's claim), sends their requests on a thread pool shared by the process
(PIPELINE_CHUNK_THREADS), and records every result in one transaction that locks all their
rounds in one statement. The guarantees are the unit's: a unit is claimed once, a result is
recorded only by the claim's holder (a unit taken over meanwhile is "lost"), a transient error
retries that unit alone, and a unit held by a live process is sent again when its lease would
lapse. A write the data refuses rolls the chunk's transaction back and each unit is recorded on
its own (execution.record_attempt), so one bad row fails one unit, as before.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, transaction

from annotator.models import StageResult
from annotator.pipeline.runs.claim import claim_units, take_unit
from annotator.pipeline.runs.context import UnitContext
from annotator.pipeline.runs.execution import (
    LOST,
    Attempt,
    Finished,
    attempt_unit,
    finish_run_if_complete,
    let_go,
    record_attempt,
    record_results,
    retry_later,
    unit_context,
)
from annotator.pipeline.runs.lease import hold_units, holder_id, release_units
from annotator.pipeline.runs.units import UnitRef

logger = logging.getLogger(__name__)


@dataclass
class ChunkOutcome:
    next_units: list[UnitRef] = field(default_factory=list)
    later: list[tuple[UnitRef, float]] = field(default_factory=list)  # (unit, send in seconds)
    statuses: dict[str, int] = field(default_factory=dict)  # done: 14, retry: 2, ...

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def execute_chunk(
    *, stage: str, unit_ids: list[int], takeover: bool = False, pooled: bool = True
) -> ChunkOutcome:
    """`takeover`: the task's earlier try ended (a retry): retake the claims it left.
    `pooled`: False runs the calls in this thread (an eager task, inside its caller's
    transaction, which the pool's connections would not see)."""
    outcome = ChunkOutcome()
    units = _claim(stage, unit_ids, takeover, outcome)
    if not units:
        return outcome
    ids = [unit.pk for unit in units]
    hold_units(unit_ids=ids, holder=units[0].claimed_by)
    try:
        contexts = [unit_context(unit) for unit in units]
        attempts = list(zip(contexts, _attempt_all(contexts, pooled), strict=True))
        _record(attempts, outcome)
    finally:
        release_units(unit_ids=ids)
    return outcome


def _claim(
    stage: str, unit_ids: list[int], takeover: bool, outcome: ChunkOutcome
) -> list[StageResult]:
    """Claim the chunk in one statement; a unit it could not take (redelivered, a dead
    process's, held by a live one) is looked at on its own, as a unit's own task would."""
    units = claim_units(unit_ids=unit_ids, holder=holder_id())
    claimed = {unit.pk for unit in units}
    for unit_id in unit_ids:
        if unit_id in claimed:
            continue
        taken = take_unit(unit_id=unit_id, retake_own=takeover)
        if taken.unit is not None and taken.unit.run is not None:
            units.append(taken.unit)
        elif taken.busy_for is not None:
            outcome.later.append((UnitRef(unit_id, stage), taken.busy_for))
            outcome.count("busy")
        else:
            outcome.count("idle")
    return units


def _attempt_all(contexts: list[UnitContext], pooled: bool) -> Iterator[Attempt]:
    """Each unit's model call, concurrently on the process's pool (in order of the units)."""
    if not pooled or len(contexts) == 1 or settings.PIPELINE_CHUNK_THREADS <= 1:
        return (attempt_unit(ctx) for ctx in contexts)
    return _pool().map(_attempt_in_pool, contexts)


def _attempt_in_pool(ctx: UnitContext) -> Attempt:
    # A pool thread keeps its own connection for the stage's reads; like a request, drop it
    # when past CONN_MAX_AGE or broken.
    close_old_connections()
    return attempt_unit(ctx)


_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool per process (a prefork child makes its own)."""
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid():
            threads = max(1, settings.PIPELINE_CHUNK_THREADS)
            _executor = ThreadPoolExecutor(threads, thread_name_prefix="pipeline-chunk")
            _executor_pid = os.getpid()
        return _executor


def shutdown_pool() -> None:
    """Stop the process's pool (its threads' connections go with them): tests, shutdown."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)
        gc.collect()  # the threads' database connections are closed as they are collected


def _record(attempts: list[tuple[UnitContext, Attempt]], outcome: ChunkOutcome) -> None:
    """Stage requests and retries unit by unit; record the results in one transaction."""
    results: list[tuple[UnitContext, Attempt]] = []
    for ctx, attempt in attempts:
        if attempt.staged is not None:
            from annotator.pipeline.batch import stage_request

            stage_request(unit=ctx.unit, body=attempt.staged)
            outcome.count("staged")
        elif attempt.transient is not None:
            retried = retry_later(ctx.unit, attempt.transient)
            outcome.later.append((UnitRef(ctx.unit.pk, ctx.unit.stage), retried.retry_in or 0))
            outcome.count("retry")
        else:
            results.append((ctx, attempt))
    if not results:
        return
    finished = _record_results(results)
    done_runs: set[int] = set()
    for (ctx, _), one in zip(results, finished, strict=True):
        outcome.count(one.status)
        if one.status == LOST:
            logger.warning("pipeline unit %s: taken over by another worker; dropped", ctx.unit.pk)
            continue
        outcome.next_units += one.next_units
        if not one.next_units and not one.round_open and ctx.unit.run_id is not None:
            done_runs.add(ctx.unit.run_id)
    for run_id in sorted(done_runs):
        finish_run_if_complete(run_id=run_id)  # these samples may have been the last


def _record_results(results: list[tuple[UnitContext, Attempt]]) -> list[Finished]:
    try:
        with transaction.atomic():
            return record_results(results)
    except (OperationalError, InterfaceError):
        for ctx, _ in results:  # the database itself: the task is retried and takes them again
            let_go(ctx.unit)
        raise
    except Exception:
        # A write the data refused rolled the whole chunk back: one unit at a time, so that
        # only the unit it belongs to fails.
        logger.warning("a chunk's results not recorded together; one by one", exc_info=True)
        return [record_attempt(ctx, attempt) for ctx, attempt in results]
