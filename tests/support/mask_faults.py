"""Kill real Celery workers (SIGKILL) in the middle of mask edits and see every edit through.

Used by tests/integration/test_mask_faults.py and bench/faults.py, with the test database and
Redis broker (tests/support/celery_worker.py). The workers run tests/support/fault_settings.py:
GrabCut that sleeps FAULT_SEGMENT_SECONDS first, so that a kill lands while an edit is claimed.
The process calling run_mask_faults plays Celery beat: it runs resend_stuck_mask_edits() every
SWEEP_EVERY seconds, as beat would (or as the waiting pages' polls do).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from annotator.models import Region, Sample
from review.models import MaskEdit
from review.selectors.masks import ROLES
from review.services.mask_dispatch import resend_stuck_mask_edits
from review.services.masks import Click, add_mask_edit
from tests.support.celery_worker import Worker, running_worker

SWEEP_EVERY = 0.5


@dataclass
class FaultRun:
    pool: str
    clicks: int
    kills: int = 0
    computed: int = 0  # edits done with their result stored once
    lost: int = 0  # edits not done when the run gave up
    stored_twice: int = 0  # 'done' outcomes beyond one per edit
    recover_seconds: float = 0.0  # the longest time from a kill to its edit's mask stored
    total_seconds: float = 0.0
    killed_edits: list[int] = field(default_factory=list)


class _Workers:
    """The worker of a run, restarted after a kill of the whole process; logs kept."""

    def __init__(self, pool: str, env: dict[str, str]) -> None:
        self.pool, self.env = pool, env
        self.logs: list[str] = []
        self._stack = ExitStack()
        self.current = self._start(purge=True)

    def _start(self, *, purge: bool) -> Worker:
        concurrency = 2 if self.pool == "prefork" else 1
        return self._stack.enter_context(
            running_worker(
                queues=("gpu",),
                extra_env=self.env,
                pool=self.pool,
                concurrency=concurrency,
                purge=purge,
            )
        )

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)  # no warm shutdown, no acknowledgement
        if pid == self.current.process.pid:  # the whole worker: start another in its place
            self.current.process.wait(timeout=10)
            self.close()
            self._stack = ExitStack()
            self.current = self._start(purge=False)

    def close(self) -> None:
        self.logs.append(self.current.log(tail=10**8))
        self._stack.close()


def _elements(samples: Sequence[Sample], clicks: int) -> Iterator[tuple[Sample, str]]:
    pairs = [(sample, role) for sample in samples for role in ROLES]
    if len(pairs) < clicks:
        raise ValueError(f"{clicks} clicks need {clicks // len(ROLES) + 1} samples")
    return iter(pairs[:clicks])


def _claimer(ids: list[int], killed: set[str]) -> tuple[int, str] | None:
    running = MaskEdit.objects.filter(pk__in=ids, status="running").exclude(claimed_by="")
    for edit_id, owner in running.values_list("pk", "claimed_by"):
        if owner not in killed:
            return edit_id, owner
    return None


def _wait(predicate: Callable[[], Any], *, timeout: float, workers: _Workers) -> Any:
    """Poll `predicate` (sweeping for stuck edits as beat does) until it is truthy."""
    deadline = time.monotonic() + timeout
    last_sweep = 0.0
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if time.monotonic() - last_sweep > SWEEP_EVERY:
            resend_stuck_mask_edits()
            last_sweep = time.monotonic()
        workers.current.check_alive()
        time.sleep(0.05)
    return None


def run_mask_faults(
    *,
    pool: str,
    samples: Sequence[Sample],
    person: Any,
    clicks: int = 12,
    kills: int = 3,
    lease_seconds: float = 2.0,
    segment_seconds: float = 0.5,
    timeout: float = 90.0,
) -> FaultRun:
    """Send `clicks` clicks (each on its own element), SIGKILL the process computing one of
    them `kills` times (solo: the worker, restarted; prefork: a pool child, which the pool
    replaces), and wait until every edit is done. Needs settings.MASK_CLAIM_LEASE_SECONDS ==
    `lease_seconds` in this process too (the sweep reads it)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.support.fault_settings",
        "SEGMENTER": "grabcut-slow",
        "FAULT_SEGMENT_SECONDS": str(segment_seconds),
        "MASK_CLAIM_LEASE_SECONDS": str(lease_seconds),
    }
    run = FaultRun(pool=pool, clicks=clicks)
    workers = _Workers(pool, env)
    started = time.monotonic()
    try:
        ids = [
            add_mask_edit(sample=sample, role=role, author=person, click=Click(150, 100, 1)).pk
            for sample, role in _elements(samples, clicks)
        ]
        killed: set[str] = set()
        kill_times: list[tuple[int, float]] = []  # (edit, when): an edit may be hit twice
        for _ in range(kills):
            found = _wait(lambda: _claimer(ids, killed), timeout=timeout, workers=workers)
            if found is None:
                break
            edit_id, owner = found
            killed.add(owner)
            kill_times.append((edit_id, time.monotonic()))
            workers.kill(int(owner.rsplit(":", 1)[1]))
        run.kills, run.killed_edits = len(kill_times), [e for e, _ in kill_times]
        done_at: dict[int, float] = {}

        def all_done() -> bool:
            for edit_id in MaskEdit.objects.filter(pk__in=ids, status="done").values_list(
                "pk", flat=True
            ):
                done_at.setdefault(edit_id, time.monotonic())
            return len(done_at) == len(ids)

        _wait(all_done, timeout=timeout, workers=workers)
        run.total_seconds = time.monotonic() - started
        recoveries = [done_at[e] - t for e, t in kill_times if e in done_at]
        run.recover_seconds = max(recoveries, default=0.0)
    finally:
        workers.close()
    _count(run, ids, workers.logs)
    return run


def _count(run: FaultRun, ids: list[int], logs: list[str]) -> None:
    edits = {e.pk: e for e in MaskEdit.objects.filter(pk__in=ids).select_related("sample")}
    for edit in edits.values():
        region = Region.objects.filter(sample=edit.sample, role=edit.role, origin="person")
        shown = [r.mask for r in region]
        if edit.status == "done" and shown == [edit.candidates[0]["rle"]]:
            run.computed += 1
    run.lost = len(ids) - run.computed
    done_outcomes = sum(len(re.findall(r"succeeded in [0-9.]+s: 'done'", log)) for log in logs)
    run.stored_twice = max(0, done_outcomes - run.computed)
