from __future__ import annotations

import pytest

from annotator.pipeline.errors import PermanentModelError, TransientModelError
from annotator.pipeline.retry import MAX_RETRY_AFTER_S, call_with_retries, retry_delay


def test_retry_after_is_honoured_and_capped():
    assert retry_delay(attempt=0, retry_after=7.0) == 7.0
    assert retry_delay(attempt=5, retry_after=0.5) == 0.5
    assert retry_delay(attempt=0, retry_after=10_000) == MAX_RETRY_AFTER_S
    assert retry_delay(attempt=0, retry_after=-3) == 0.0


def test_backoff_doubles_with_jitter_up_to_the_cap():
    low = [retry_delay(attempt=n, jitter=lambda: 0.0) for n in range(8)]
    high = [retry_delay(attempt=n, jitter=lambda: 1.0) for n in range(8)]
    assert high == [1, 2, 4, 8, 16, 32, 60, 60]
    assert low == [h / 2 for h in high]


def test_call_with_retries_retries_transient_errors_then_gives_up():
    calls: list[int] = []
    slept: list[float] = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientModelError("429", retry_after=2.0)
        return "ok"

    assert call_with_retries(flaky, max_retries=3, sleep=slept.append) == "ok"
    assert slept == [2.0, 2.0]

    def always():
        raise TransientModelError("503")

    with pytest.raises(TransientModelError):
        call_with_retries(always, max_retries=2, sleep=slept.append)
    assert len(slept) == 4


def test_permanent_errors_are_not_retried():
    slept: list[float] = []

    def broken():
        raise PermanentModelError("401")

    with pytest.raises(PermanentModelError):
        call_with_retries(broken, max_retries=5, sleep=slept.append)
    assert slept == []
