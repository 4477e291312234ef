"""Per-endpoint client-side limits: requests/min and tokens/min token buckets, and concurrency.

Limits hold within one process (each Celery worker process has its own buckets); set them to
the provider's limit divided by the number of worker processes. Token costs are estimated before
a request and settled with the usage the endpoint reports, so the bucket may run into debt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from annotator.pipeline.config import EndpointConfig

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    """Refills at `per_minute` / 60 a second up to `capacity`. Not locked: RateLimiter locks."""

    def __init__(self, *, per_minute: float, capacity: float, clock: Clock) -> None:
        self.rate = per_minute / 60.0
        self.capacity = capacity
        self.level = capacity
        self.clock = clock
        self.updated = clock()

    def refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` may be taken. A cost above capacity waits for a full bucket."""
        needed = min(amount, self.capacity)
        return max(0.0, (needed - self.level) / self.rate)

    def take(self, amount: float) -> None:
        self.level -= amount  # may go negative: later callers wait the debt off


class RateLimiter:
    def __init__(
        self,
        *,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        concurrency: int | None = None,
        burst_s: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        """`burst_s`: how many seconds' worth of the rate may go out at once (>= 1 request)."""
        self._lock = threading.Lock()
        self._sleep = sleep
        self.requests = self._bucket(requests_per_minute, burst_s, clock)
        self.tokens = self._bucket(tokens_per_minute, burst_s, clock)
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency else None

    @staticmethod
    def _bucket(per_minute: int | None, burst_s: float, clock: Clock) -> TokenBucket | None:
        if not per_minute:
            return None
        capacity = max(1.0, per_minute * burst_s / 60.0)
        return TokenBucket(per_minute=per_minute, capacity=capacity, clock=clock)

    def acquire(self, *, tokens: int = 0) -> float:
        """Block until one request costing `tokens` may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                wait = 0.0
                for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
                    if bucket is not None:
                        bucket.refill()
                        wait = max(wait, bucket.wait_for(amount))
                if wait <= 0:
                    if self.requests is not None:
                        self.requests.take(1)
                    if self.tokens is not None:
                        self.tokens.take(tokens)
                    return waited
            self._sleep(wait)
            waited += wait

    def settle(self, *, estimated: int, actual: int | None) -> None:
        """Charge the difference between the estimated and the reported token use."""
        if self.tokens is None or actual is None:
            return
        with self._lock:
            self.tokens.refill()
            self.tokens.take(actual - estimated)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """At most `concurrency` requests in flight to this endpoint from this process."""
        if self._slots is None:
            yield
            return
        with self._slots:
            yield


_registry: dict[tuple[str, str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(config: EndpointConfig) -> RateLimiter:
    """The process-wide limiter of one endpoint (same name, URL and model: same buckets)."""
    key = (config.name, config.base_url, config.model)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = RateLimiter(
                requests_per_minute=config.requests_per_minute,
                tokens_per_minute=config.tokens_per_minute,
                concurrency=config.concurrency,
            )
            _registry[key] = limiter
        return limiter
