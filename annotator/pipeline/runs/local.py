"""The in-process runner: a run's units one after another in this process (no broker needed).

The same execute_unit as the Celery tasks; what a task would publish goes on a local queue, and
a transient error's retry waits on a timer while other units go ahead.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from django.db import OperationalError, connections

from annotator.pipeline.runs.execution import execute_unit, fail_run, finish_run_if_complete
from annotator.pipeline.runs.units import UnitRef

logger = logging.getLogger(__name__)
DB_RETRY_S = 1.0  # a locked SQLite file: try the unit again shortly
BATCH_POLL_S = 0.5  # how often an open batch is polled when nothing else is left to run


class LocalRunner:
    def __init__(
        self,
        *,
        run_id: int,
        on_progress: Callable[[], None] | None = None,
        progress_every_s: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id = run_id
        self.on_progress = on_progress
        self.progress_every_s = progress_every_s
        self.sleep, self.clock = sleep, clock
        self._ready: deque[tuple[UnitRef, bool]] = deque()
        self._later: list[tuple[float, int, UnitRef, bool]] = []  # (due, tiebreak, unit, takeover)
        self._count = itertools.count()
        self._last_progress = float("-inf")

    def run(self, start: Iterable[UnitRef]) -> None:
        """Until no unit is ready or waiting. Units of a cancelled run are not claimed, so a
        cancel from elsewhere (the Runs page) ends this loop quickly."""
        self._ready.extend((ref, False) for ref in start)
        while self._ready or self._later or self._batches_open():
            self._release_due()
            if not self._ready:
                if self._later:  # else batch mode's poll waited already
                    self.sleep(min(0.2, max(0.0, self._later[0][0] - self.clock())))
                self._progress()
                continue
            ref, takeover = self._ready.popleft()
            self._execute(ref, takeover)
            self._progress()
        finish_run_if_complete(run_id=self.run_id)
        self._progress(force=True)

    def _batches_open(self) -> bool:
        """Batch mode: submit what waits, poll, run what the batches answered; while requests
        are still out, wait BATCH_POLL_S (then the loop asks again)."""
        from annotator.pipeline.batch import poll_batches

        polled = poll_batches(run_ids=[self.run_id])
        self._ready.extend((ref, False) for ref in polled.next_units)
        if polled.open and not polled.next_units:
            self.sleep(BATCH_POLL_S)
            self._progress()
        return polled.open or bool(polled.next_units)

    def _execute(self, ref: UnitRef, takeover: bool) -> None:
        try:
            outcome = execute_unit(unit_id=ref.id, takeover=takeover)
        except OperationalError as exc:
            logger.warning("unit %s: database busy (%s); trying again", ref.id, exc)
            self._wait(ref, DB_RETRY_S, takeover=True)
            return
        if outcome.retry_in is not None:
            self._wait(ref, outcome.retry_in, takeover=False)
        self._ready.extend((following, False) for following in outcome.next_units)

    def _wait(self, ref: UnitRef, delay: float, *, takeover: bool) -> None:
        heapq.heappush(self._later, (self.clock() + delay, next(self._count), ref, takeover))

    def _release_due(self) -> None:
        now = self.clock()
        while self._later and self._later[0][0] <= now:
            _, _, ref, takeover = heapq.heappop(self._later)
            self._ready.append((ref, takeover))

    def _progress(self, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock()
        if force or now - self._last_progress >= self.progress_every_s:
            self._last_progress = now
            self.on_progress()


def run_in_background(*, run_id: int, start: list[UnitRef]) -> threading.Thread:
    """A daemon thread of this (web) process runs the units: the embedded default's way to run
    what the Runs page starts. It ends with the process; run again to resume what is left."""

    def target() -> None:
        try:
            LocalRunner(run_id=run_id).run(start)
        except Exception:
            logger.exception("pipeline run %s stopped", run_id)
            fail_run(run_id=run_id, error="the in-process runner stopped; see the log")
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name=f"pipeline-run-{run_id}", daemon=True)
    thread.start()
    return thread
