"""What this process recently asked the workers for, so that the next page does not ask again.

Opening a sample asks for its embedding and those of the person's next samples; the next page
asks for nearly the same ones (the window moves by one). Each ask is a broker message, ~0.7 ms
of the web process's CPU, and a task the worker then skips as cached: at 16 annotators on
PostgreSQL the sample page spent ~3 ms a view on them. Kept per process for RECENT_SECONDS; a
restarted or other process may ask again, which is harmless (the task skips what is cached).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

RECENT_SECONDS = 300.0
MAX_KEPT = 20_000

_asked: dict[tuple[str, int, int], float] = {}


def not_asked_recently(
    *, kind: str, sample_ids: Iterable[int], priority: int, now: float | None = None
) -> list[int]:
    """The ids among `sample_ids` not asked for (this kind, at this priority) in the last
    RECENT_SECONDS, in order, each remembered as asked now."""
    now = time.monotonic() if now is None else now
    if len(_asked) > MAX_KEPT:
        _forget_before(now - RECENT_SECONDS)
    fresh = []
    for pk in dict.fromkeys(int(i) for i in sample_ids):
        key = (kind, pk, priority)
        if now - _asked.get(key, float("-inf")) >= RECENT_SECONDS:
            _asked[key] = now
            fresh.append(pk)
    return fresh


def forget_all() -> None:
    """Ask again for everything (tests; a process that knows its asks were lost)."""
    _asked.clear()


def _forget_before(moment: float) -> None:
    for key in [k for k, at in _asked.items() if at < moment]:
        del _asked[key]
    if len(_asked) > MAX_KEPT:  # all recent: keep the memory bounded anyway
        _asked.clear()
