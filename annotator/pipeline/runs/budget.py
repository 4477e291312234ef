"""The run's budget: no new model call once the run's spend reached it.

Checked before each model call (annotate, critic). The spend is read from the database at most
once per CHECK_EVERY_S per run and process, so several workers overshoot by at most the calls
they start within that time plus those already in flight.
"""

from __future__ import annotations

import threading
import time

from annotator.pipeline.costs import money
from annotator.pipeline.runs.context import StageFailed, UnitContext
from annotator.pipeline.staging import ingesting_batch

CHECK_EVERY_S = 1.0
BUDGET_REACHED = "budget reached"  # the failed units' error starts with it
_seen: dict[int, tuple[float, float]] = {}  # run id -> (checked at, spend)
_lock = threading.Lock()


def check_budget(ctx: UnitContext) -> None:
    """StageFailed when the run's budget is spent: the call is not sent."""
    budget = ctx.config.budget
    if budget is None or ingesting_batch.get():  # a batch's answer: already paid for
        return
    spent = _spend(ctx)
    if spent >= budget:
        raise StageFailed(
            f"{BUDGET_REACHED}: {money(spent)} spent of the run's {money(budget)}; not sent"
        )


def _spend(ctx: UnitContext) -> float:
    from annotator.selectors.run_costs import run_spend

    now = time.monotonic()
    with _lock:
        seen = _seen.get(ctx.run.pk)
    if seen is not None and now - seen[0] < CHECK_EVERY_S:
        return seen[1]
    spent = run_spend(run=ctx.run).cost
    with _lock:
        _seen[ctx.run.pk] = (now, spent)
    return spent
