from __future__ import annotations

import threading
import time

import pytest

from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.ratelimit import RateLimiter, limiter_for


class FakeClock:
    """Virtual time: sleeping advances it at once (thread-safe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds
            self.slept.append(seconds)


def limiter(clock: FakeClock, **kwargs) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def test_no_limits_never_wait():
    clock = FakeClock()
    bucketless = limiter(clock)
    assert [bucketless.acquire(tokens=10**6) for _ in range(100)] == [0.0] * 100


def test_requests_per_minute_spaces_requests_after_the_burst():
    clock = FakeClock()
    rpm = limiter(clock, requests_per_minute=6, burst_s=10)  # capacity 1, one every 10 s
    assert rpm.acquire() == 0.0
    assert rpm.acquire() == pytest.approx(10.0)
    clock.sleep(25)  # idle time refills, up to the capacity only
    assert rpm.acquire() == 0.0
    assert rpm.acquire() == pytest.approx(10.0)


def test_tokens_per_minute_waits_for_the_estimate_and_settles_the_actual_use():
    clock = FakeClock()
    tpm = limiter(clock, tokens_per_minute=600, burst_s=10)  # 10 tokens/s, capacity 100
    assert tpm.acquire(tokens=80) == 0.0
    assert tpm.acquire(tokens=80) == pytest.approx(6.0)  # needs 60 more tokens
    tpm.settle(estimated=80, actual=130)  # used 50 more than estimated: a debt
    assert tpm.tokens is not None
    assert tpm.tokens.level == pytest.approx(-50.0)
    assert tpm.acquire(tokens=10) == pytest.approx(6.0)


def test_a_request_costing_more_than_the_bucket_waits_for_a_full_bucket():
    clock = FakeClock()
    tpm = limiter(clock, tokens_per_minute=600, burst_s=10)
    assert tpm.acquire(tokens=500) == 0.0  # a full bucket lets it through, into debt
    assert tpm.acquire(tokens=500) == pytest.approx(50.0)  # 400 of debt + 100 to refill


def test_both_limits_apply_and_the_longer_wait_wins():
    clock = FakeClock()
    both = limiter(clock, requests_per_minute=60, tokens_per_minute=60, burst_s=1)
    assert both.acquire(tokens=1) == 0.0
    assert both.acquire(tokens=1) == pytest.approx(1.0)


def test_threads_never_exceed_the_rate():
    clock = FakeClock()
    rpm = limiter(clock, requests_per_minute=60, burst_s=5)  # 1/s, capacity 5
    start = clock()
    granted = []

    def worker() -> None:
        for _ in range(10):
            rpm.acquire()
            granted.append(clock())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 80
    # At any moment, grants so far <= capacity + rate * elapsed.
    for count, at in enumerate(sorted(granted), start=1):
        assert count <= 5 + (at - start) * 1.0 + 1e-6


def test_concurrency_slots_bound_requests_in_flight():
    slots = RateLimiter(concurrency=2)
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal in_flight, peak
        with slots.slot():
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_one_limiter_per_endpoint_and_process():
    a = EndpointConfig(name="a", base_url="http://h/v1", model="m", requests_per_minute=10)
    b = EndpointConfig(name="b", base_url="http://h/v1", model="m", requests_per_minute=10)
    assert limiter_for(a) is limiter_for(a)
    assert limiter_for(a) is not limiter_for(b)
