"""Run one unit: claim it, compute its stage, record the result, pick the units that follow.

Transport-free: a Celery task and the in-process runner both call `execute_unit` and dispatch
the units it returns. Idempotent: a unit is claimed with a conditional UPDATE (pending ->
running, and only while its run is not cancelled), so a redelivered or duplicated message finds
nothing to do. The claim names its process and holds a lease renewed while the unit runs
(lease.py); only the current holder records the result, so a unit taken over from a worker
thought dead is recorded once. The next stage of a sample is chosen in the transaction that
records the unit, with the run's units of that sample and round locked, so when parallel units
(one per annotator) finish together exactly one of them starts the next stage; those units are
marked due to be sent (the outbox, dispatch.py) in the same transaction.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from annotator.models import PipelineRun, StageResult
from annotator.pipeline.errors import ModelError, PipelineConfigError, TransientModelError
from annotator.pipeline.retry import retry_delay
from annotator.pipeline.runs.claim import take_unit
from annotator.pipeline.runs.config_store import run_config
from annotator.pipeline.runs.context import Computed, RoundUnits, StageFailed, UnitContext
from annotator.pipeline.runs.lease import hold, release
from annotator.pipeline.runs.stages import STAGE_FUNCTIONS, stage_endpoint_retries
from annotator.pipeline.runs.units import (
    DONE,
    FAILED,
    ORDER,
    PENDING,
    RUNNING,
    SKIPPED,
    VERIFY,
    VERIFY_MODEL,
    UnitRef,
)
from annotator.pipeline.runs.writes import RowWrites, upsert_proposals
from annotator.pipeline.staging import BatchStaged
from annotator.selectors.pipeline_runs import ACTIVE, run_is_unfinished

logger = logging.getLogger(__name__)
ERROR_MAX = 2000
LOST = "lost"


@dataclass(frozen=True)
class UnitOutcome:
    # done, failed, skipped, retry; "idle" when there was nothing to claim, "busy" when a live
    # process holds the unit (check again in retry_in), "lost" when another process took it
    # over meanwhile (its result counts, not this one)
    status: str
    next_units: list[UnitRef] = field(default_factory=list)
    retry_in: float | None = None


def execute_unit(*, unit_id: int, takeover: bool = False) -> UnitOutcome:
    """`takeover`: the caller's earlier try at this unit ended (a retry): retake its claim."""
    taken = take_unit(unit_id=unit_id, retake_own=takeover)
    unit = taken.unit
    if unit is None or unit.run is None:
        if taken.busy_for is not None:
            return UnitOutcome("busy", retry_in=taken.busy_for)
        return UnitOutcome("idle")
    hold(unit_id=unit.pk, holder=unit.claimed_by)
    try:
        return _execute_claimed(unit)
    finally:
        release(unit_id=unit.pk)


@dataclass
class Attempt:
    """One unit's stage computed: its result (a Computed, or the error to record with the failed
    reply's raw text and tokens), or no result yet: staged in a batch, or a transient error."""

    result: Computed | str | None
    raw: str | None = None
    tokens: tuple[int | None, int | None] = (None, None)
    staged: dict[str, Any] | None = None  # batch mode: the request body that waits
    transient: TransientModelError | None = None  # to retry later


def attempt_unit(ctx: UnitContext) -> Attempt:
    """Run the unit's stage (the model call); never raises for the unit's own failures."""
    unit = ctx.unit
    try:
        return Attempt(STAGE_FUNCTIONS[unit.stage](ctx))
    except BatchStaged as staged:  # batch mode: the request waits in a batch (pipeline/batch.py)
        return Attempt(None, staged=staged.body)
    except TransientModelError as exc:
        if unit.attempts <= stage_endpoint_retries(ctx):
            return Attempt(None, transient=exc)
        return Attempt(f"gave up after {unit.attempts} attempts: {exc}")
    except (ModelError, PipelineConfigError, StageFailed) as exc:
        raw = getattr(exc, "raw", None)  # a reply still invalid after its repair: kept
        tokens = (getattr(exc, "input_tokens", None), getattr(exc, "output_tokens", None))
        return Attempt(str(exc), raw=raw, tokens=tokens)
    except Exception as exc:  # a bug or a broken file fails this unit, not the run
        logger.exception("pipeline unit %s (%s) failed", unit.pk, unit.stage)
        return Attempt(f"{type(exc).__name__}: {exc}")


def unit_context(unit: StageResult) -> UnitContext:
    """A claimed unit with its run's parsed configuration."""
    assert unit.run is not None
    return UnitContext(unit=unit, config=run_config(data=unit.run.config))


def _execute_claimed(unit: StageResult) -> UnitOutcome:
    assert unit.run is not None
    ctx = unit_context(unit)
    attempt = attempt_unit(ctx)
    if attempt.staged is not None:
        from annotator.pipeline.batch import stage_request

        stage_request(unit=unit, body=attempt.staged)
        return UnitOutcome("staged")
    if attempt.transient is not None:
        return retry_later(unit, attempt.transient)
    finished = record_attempt(ctx, attempt)
    if finished.status == LOST:
        logger.warning("pipeline unit %s: taken over by another worker; result dropped", unit.pk)
        return UnitOutcome(LOST)
    if not finished.next_units and not finished.round_open:
        finish_run_if_complete(run_id=unit.run.pk)  # this sample may have been the last
    return UnitOutcome(finished.status, finished.next_units)


def record_attempt(ctx: UnitContext, attempt: Attempt) -> Finished:
    """finish_unit; a write the data refused is recorded as the unit's failure instead."""
    assert attempt.result is not None
    try:
        return finish_unit(ctx, attempt.result, raw=attempt.raw, tokens=attempt.tokens)
    except (OperationalError, InterfaceError):
        let_go(ctx.unit)  # the database itself: the task is retried and takes the unit again
        raise
    except Exception as exc:
        logger.exception("pipeline unit %s (%s): result not recorded", ctx.unit.pk, ctx.unit.stage)
        return finish_unit(ctx, f"result not recorded: {type(exc).__name__}: {exc}")


def let_go(unit: StageResult) -> None:
    """Hand the claim back (pending), so the retry need not wait for the lease to lapse;
    the database may refuse this too, and then the lease does it."""
    with contextlib.suppress(OperationalError, InterfaceError):
        StageResult.objects.filter(pk=unit.pk, status=RUNNING, claimed_by=unit.claimed_by).update(
            status=PENDING, claimed_by="", lease_until=None
        )


def retry_later(unit: StageResult, exc: TransientModelError) -> UnitOutcome:
    delay = retry_delay(attempt=unit.attempts - 1, retry_after=exc.retry_after)
    message = f"attempt {unit.attempts}: {exc} (retrying in {delay:.1f} s)"
    # Pending again and due to be sent: the task's retry is that message (sent_at once sent).
    StageResult.objects.filter(pk=unit.pk, status=RUNNING, claimed_by=unit.claimed_by).update(
        status=PENDING, error=message[:ERROR_MAX], claimed_by="", lease_until=None,
        send_due=timezone.now(),
    )  # fmt: skip
    return UnitOutcome("retry", retry_in=delay)


class Finished(NamedTuple):
    next_units: list[UnitRef]
    status: str
    round_open: bool = False  # units of this sample and round are still pending or running


def finish_unit(
    ctx: UnitContext,
    result: Computed | str,
    *,
    raw: str | None = None,
    tokens: tuple[int | None, int | None] = (None, None),
) -> Finished:
    """Record the unit (a Computed, or an error message with the failed reply's raw text and
    the tokens it cost) and return the units to start next."""
    with transaction.atomic():
        (finished,) = record_results([(ctx, Attempt(result, raw, tokens))])
    return finished


RoundKey = tuple[int, int, int]  # (run, sample, round)


def record_results(results: list[tuple[UnitContext, Attempt]]) -> list[Finished]:
    """Record these units (one, or a chunk's) in the caller's transaction: lock their rounds,
    write the proposals first (verify reads them), record each unit, write the rows the units
    gathered, mark the units that follow due."""
    rounds, holders = lock_rounds([ctx.unit for ctx, _ in results])
    writes = RowWrites()
    for round_units in rounds.values():
        round_units.writes = writes
    upsert_proposals(
        [
            attempt.result.proposal
            for ctx, attempt in results
            if isinstance(attempt.result, Computed)
            and attempt.result.proposal is not None
            and _held(ctx.unit, rounds, holders)
        ]
    )
    finished = [record_locked(ctx, attempt, rounds, holders) for ctx, attempt in results]
    writes.flush()
    mark_due([ref.id for one in finished for ref in one.next_units])
    return finished


def _held(unit: StageResult, rounds: dict[RoundKey, RoundUnits], holders: dict[int, str]) -> bool:
    """Whether this process's claim of the unit still stands (not deleted, not taken over)."""
    assert unit.run_id is not None
    round_units = rounds[(unit.run_id, unit.sample_id, unit.round)]
    return round_units.status.get(unit.pk) == RUNNING and holders.get(unit.pk) == unit.claimed_by


def record_locked(
    ctx: UnitContext,
    attempt: Attempt,
    rounds: dict[RoundKey, RoundUnits],
    holders: dict[int, str],
) -> Finished:
    """Record one unit whose round `lock_rounds` holds, its rows added to the round's writes
    (record_results writes them)."""
    unit, result = ctx.unit, attempt.result
    assert unit.run_id is not None and result is not None
    round_units = rounds[(unit.run_id, unit.sample_id, unit.round)]
    assert round_units.writes is not None
    if unit.pk not in round_units.status:
        return Finished([], FAILED)  # deleted with its sample meanwhile
    if not _held(unit, rounds, holders):
        return Finished([], LOST)  # its lease lapsed and another process took it over
    extra: list[UnitRef] = []
    values: dict[str, object]
    if isinstance(result, str):
        values = {"status": FAILED, "error": result[:ERROR_MAX]}
        if attempt.raw is not None:
            values["output"] = {"reply": attempt.raw}
        values["input_tokens"], values["output_tokens"] = attempt.tokens
    else:
        extra = result.write(round_units) if result.write is not None else []
        values = _done_values(result)
    round_units.writes.units.append((unit.pk, {**values, "finished_at": timezone.now()}))
    round_units.status[unit.pk] = str(values["status"])
    following = _advance(unit, round_units)
    following, more = _run_inline(ctx, following, round_units)
    is_open = any(s in (PENDING, RUNNING) for s in round_units.status.values())
    return Finished([*following, *extra, *more], str(values["status"]), is_open)


def _done_values(result: Computed) -> dict[str, object]:
    return {
        "status": SKIPPED if result.skipped else DONE,
        "error": "",
        "output": result.output,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "latency_ms": result.latency_ms,
    }


def mark_due(ids: list[int]) -> None:
    """These units are to be sent to the workers (dispatch clears it once the broker has them)."""
    now = timezone.now()
    for offset in range(0, len(ids), 1000):
        StageResult.objects.filter(pk__in=ids[offset : offset + 1000]).update(send_due=now)


def lock_rounds(
    units: list[StageResult],
) -> tuple[dict[RoundKey, RoundUnits], dict[int, str]]:
    """Lock the run's units of these units' samples and rounds, in id order (no deadlocks), in
    one statement. A sibling finishing at the same time waits here, then sees this result.
    Returns each round's units and who holds each unit's claim now."""
    keys = sorted({(u.run_id, u.sample_id, u.round) for u in units if u.run_id is not None})
    statuses = {u.sample_id: u.sample.status for u in units}
    # Plain SQL: this runs for every unit, and building the ORM query cost more than running it.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    where = " OR ".join(["(run_id = %s AND sample_id = %s AND round = %s)"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, run_id, sample_id, round, stage, status, claimed_by "
            f'FROM "{StageResult._meta.db_table}" WHERE {where} ORDER BY id{lock}',
            [value for key in keys for value in key],
        )
        rows = cursor.fetchall()
    rounds = {key: RoundUnits(sample_status=statuses[key[1]], status={}, stage={}) for key in keys}
    holders: dict[int, str] = {}
    for pk, run_id, sample_id, round_, stage, status, claimed_by in rows:
        round_units = rounds[(run_id, sample_id, round_)]
        round_units.status[pk], round_units.stage[pk] = status, stage
        holders[pk] = claimed_by
    return rounds, holders


def _advance(unit: StageResult, round_units: RoundUnits) -> list[UnitRef]:
    """The next stage's units of this sample and round, once every unit of this stage is final;
    after a failure, the later stages are skipped (with the reason) instead."""
    here = [round_units.status[pk] for pk in round_units.ids(unit.stage)]
    if any(status in (PENDING, RUNNING) for status in here):
        return []  # a sibling is still at work; it will advance the sample
    later = [
        pk
        for pk, stage in round_units.stage.items()
        if ORDER[stage] > ORDER[unit.stage] and round_units.status[pk] == PENDING
    ]
    if not later:
        return []
    if FAILED in here:
        StageResult.objects.filter(pk__in=later).update(
            status=SKIPPED, error=f"not run: {unit.stage} failed", finished_at=timezone.now()
        )
        round_units.status.update(dict.fromkeys(later, SKIPPED))
        return []
    first = min(ORDER[round_units.stage[pk]] for pk in later)
    return [
        UnitRef(pk, round_units.stage[pk]) for pk in later if ORDER[round_units.stage[pk]] == first
    ]


def _run_inline(
    ctx: UnitContext, following: list[UnitRef], round_units: RoundUnits
) -> tuple[list[UnitRef], list[UnitRef]]:
    """Verify needs no model: rather than a message and a claim of its own, it runs here, in
    the transaction that already holds the round. Returns (next units, extra units)."""
    extra: list[UnitRef] = []
    while len(following) == 1 and following[0].stage == VERIFY:
        ref = following[0]
        unit = StageResult(
            pk=ref.id, run_id=ctx.unit.run_id, sample_id=ctx.unit.sample_id, stage=VERIFY,
            model_name=VERIFY_MODEL, round=ctx.unit.round,
        )  # fmt: skip
        unit.run, unit.sample = ctx.run, ctx.sample
        result = STAGE_FUNCTIONS[VERIFY](UnitContext(unit=unit, config=ctx.config))
        extra += result.write(round_units) if result.write is not None else []
        now = timezone.now()
        assert round_units.writes is not None
        round_units.writes.verified.append(
            (ref.id, {"claimed_at": now, "finished_at": now, **_done_values(result)})
        )  # and attempts + 1
        round_units.status[ref.id] = DONE
        following = _advance(unit, round_units)
    return following, extra


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


def fail_run(*, run_id: int, error: str) -> None:
    """Record that the run stopped on an error (the in-process runner died): failed, with why."""
    PipelineRun.objects.filter(pk=run_id, status__in=ACTIVE).update(
        status=PipelineRun.Status.FAILED, error=error, finished_at=timezone.now()
    )
