"""Per-endpoint client-side limits: requests/min and tokens/min token buckets, and concurrency.

With Redis (PIPELINE_RATE_LIMIT_REDIS_URL, else a redis:// CELERY_BROKER_URL) the rate limits
are shared by every worker process and machine (shared_ratelimit.py); without it, or while
Redis does not answer, they hold within one process. Concurrency is always per process. Token
costs are estimated before a request and settled with the usage the endpoint reports, so the
bucket may run into debt.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.shared_ratelimit import SharedLimitsUnavailable

logger = logging.getLogger(__name__)
REDIS_URL_ENV = "PIPELINE_RATE_LIMIT_REDIS_URL"

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
        shared: Any = None,
    ) -> None:
        """`burst_s`: how many seconds' worth of the rate may go out at once (>= 1 request).
        `shared`: SharedBuckets in Redis, used first; these in-process buckets are the fallback."""
        self._lock = threading.Lock()
        self._sleep = sleep
        self.shared = shared
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
        if self.shared is not None:
            try:
                return float(self.shared.acquire(tokens=tokens))
            except SharedLimitsUnavailable as exc:  # this process's own buckets meanwhile
                _warn_fallback(exc)
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
        if self.shared is not None:
            try:
                self.shared.settle(estimated=estimated, actual=actual)
                return
            except SharedLimitsUnavailable as exc:
                _warn_fallback(exc)
        if self.tokens is None or actual is None:
            return
        with self._lock:
            self.tokens.refill()
            self.tokens.take(actual - estimated)

    def pause(self, seconds: float) -> None:
        """With shared limits, no worker sends to this endpoint for `seconds` (a 429's
        Retry-After). Within one process the unit's own retry already waits it out."""
        if self.shared is None:
            return
        try:
            self.shared.pause(seconds)
        except SharedLimitsUnavailable as exc:
            _warn_fallback(exc)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """At most `concurrency` requests in flight to this endpoint from this process."""
        if self._slots is None:
            yield
            return
        with self._slots:
            yield


_warned = threading.Event()


def _warn_fallback(exc: Exception) -> None:
    if not _warned.is_set():
        _warned.set()
        logger.warning("shared rate limits unavailable (%s): limiting per process", exc)


def shared_limits_url() -> str | None:
    """$PIPELINE_RATE_LIMIT_REDIS_URL ("off": none), else the broker's URL when it is Redis."""
    url = os.environ.get(REDIS_URL_ENV)
    if url is None:
        try:
            from django.conf import settings

            url = getattr(settings, "CELERY_BROKER_URL", None) or ""
        except Exception:  # no Django settings (a plain script)
            url = ""
    url = url.strip()
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def _shared_buckets(config: EndpointConfig) -> Any:
    url = shared_limits_url()
    if url is None or not (config.requests_per_minute or config.tokens_per_minute):
        return None
    from annotator.pipeline.shared_ratelimit import SharedBuckets, redis_client

    return SharedBuckets(
        client=redis_client(url),
        base_url=config.base_url,
        model=config.model,
        requests_per_minute=config.requests_per_minute,
        tokens_per_minute=config.tokens_per_minute,
    )


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
                shared=_shared_buckets(config),
            )
            _registry[key] = limiter
        return limiter


def reset_limiters() -> None:
    """Forget every endpoint's limiter (tests that change the Redis URL)."""
    with _registry_lock:
        _registry.clear()
