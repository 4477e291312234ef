"""Check a large import file in worker processes while this process writes (both cores busy).

The file is cut into ranges of about CHUNK_BYTES at line starts; each worker reads its range
from disk itself (nothing but two offsets goes to it), parses and checks every line
(annotator.importers.lines) with its own image cache, and sends back the outcomes: problems,
or the lines' rows ready to insert. Outcomes come back in file order, at most a few chunks
ahead of the writer, so memory stays flat. Workers never touch the database.

Workers are forked, so they start at once with Django set up; a process with other threads
running (a threaded dev server, a test's live server) or one that may not have children checks
the file itself instead, as it does a small file (below PARALLEL_MIN_BYTES).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from annotator.importers.images import ImageCache
from annotator.importers.issues import ImportIssue
from annotator.importers.jsonl import BLANK, line_starts, read_hinted_range
from annotator.importers.lines import LineOutcome, LineSetup, check_value

PARALLEL_MIN_BYTES = 32 * 1024 * 1024  # ~3,000 EmoVerse lines with DES; below, one process
CHUNK_BYTES = 4 * 1024 * 1024  # a worker's range: ~400 DES lines
MAX_WORKERS = 4
AHEAD = 2  # chunks in flight per worker: enough to keep them busy, few enough to bound memory

Checked = list[tuple[int, LineOutcome]]  # (line number within the chunk, outcome)


class WorkerSetup(NamedTuple):
    path: Path
    line: LineSetup
    root: Path
    max_line_bytes: int
    max_pixels: int


class _Worker(NamedTuple):
    setup: WorkerSetup
    images: ImageCache


_worker: _Worker | None = None  # set in each worker process by _start


def other_threads_running() -> bool:
    """Forking copies only this thread; locks another thread holds would stay held in the child
    (a threaded development server, a pipeline run's lease keeper): check in this process."""
    return threading.active_count() > 1


def worker_count(path: Path) -> int:
    """How many worker processes should check `path`; 0: check it in this process."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (
        (cores or 1) < 2
        or path.stat().st_size < PARALLEL_MIN_BYTES
        or "fork" not in multiprocessing.get_all_start_methods()
        or other_threads_running()
        or multiprocessing.current_process().daemon  # a daemon may not have children
    ):
        return 0
    return min(MAX_WORKERS, cores or 1)


def check_in_workers(
    path: Path, setup: LineSetup, *, root: Path, max_line_bytes: int, max_pixels: int, workers: int
) -> Iterator[tuple[int, LineOutcome]]:
    """(line number, outcome) for every line but blank ones, in file order."""
    start = WorkerSetup(path, setup, root, max_line_bytes, max_pixels)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(start,),
    )
    pending: deque[Future[tuple[int, Checked]]] = deque()
    ranges = line_starts(path, every=CHUNK_BYTES)
    base = 0  # lines in the chunks before
    try:
        while True:
            while len(pending) < workers * AHEAD and (span := next(ranges, None)):
                pending.append(pool.submit(_check_range, span))
            if not pending:
                break
            count, checked = pending.popleft().result()
            for number, outcome in checked:
                yield base + number, _numbered(outcome, base + number, setup.shown)
            base += count
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _numbered(outcome: LineOutcome, number: int, shown: str) -> LineOutcome:
    """The outcome with its problems on the file's line number (a worker counts from its
    range's first line)."""
    if not outcome.issues:
        return outcome
    issues = [ImportIssue(shown, number, issue.field, issue.message) for issue in outcome.issues]
    return outcome._replace(issues=issues)


def _start(setup: WorkerSetup) -> None:
    global _worker
    _worker = _Worker(setup, ImageCache(setup.root, max_pixels=setup.max_pixels))


def _check_range(span: tuple[int, int]) -> tuple[int, Checked]:
    """(lines in the range, blank ones too; the outcomes of the others)."""
    assert _worker is not None, "runs in a worker started by _start"
    setup, images = _worker
    count, checked = 0, []
    lines = read_hinted_range(
        setup.path, start=span[0], end=span[1], max_line_bytes=setup.max_line_bytes, blank=True
    )
    for number, value, hints in lines:
        count = number
        if value is not BLANK:
            outcome = check_value(value, hints, number=number, setup=setup.line, images=images)
            checked.append((number, outcome))
    return count, checked
