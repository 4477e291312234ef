"""Backoff for transient model errors: honour Retry-After, else exponential with jitter.

The adapters make one attempt per call and raise TransientModelError; the task layer retries
(Celery `self.retry(countdown=retry_delay(...))`), or `call_with_retries` does it in-process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from annotator.pipeline.errors import TransientModelError

T = TypeVar("T")
MAX_RETRY_AFTER_S = 600.0


def retry_delay(
    *,
    attempt: int,
    retry_after: float | None = None,
    base_s: float = 1.0,
    cap_s: float = 60.0,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
    ceiling = min(cap_s, base_s * 2**attempt)
    return ceiling * (0.5 + 0.5 * jitter())  # "equal jitter": spread retries, keep a floor


def call_with_retries(
    call: Callable[[], T],
    *,
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientModelError, float], None] | None = None,
) -> T:
    """`call()`, retried up to `max_retries` times on TransientModelError; the last error raises."""
    attempt = 0
    while True:
        try:
            return call()
        except TransientModelError as exc:
            if attempt >= max_retries:
                raise
            delay = retry_delay(attempt=attempt, retry_after=exc.retry_after)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            attempt += 1
