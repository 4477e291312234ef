"""Rate limits shared through Redis by worker processes (issue 13 §1), against the loopback
server, which records when each request arrived. Redis db 7 (PIPELINE_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

pytest.importorskip("openai")

from annotator.adapters.llm import ChatEndpoint
from annotator.pipeline import ratelimit
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.errors import TransientModelError
from annotator.pipeline.ratelimit import REDIS_URL_ENV, RateLimiter, reset_limiters
from annotator.pipeline.shared_ratelimit import SharedBuckets, redis_client
from tests.support.openai_server import OpenAIServer, rate_limited

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("PIPELINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def redis_url(monkeypatch):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    monkeypatch.setenv(REDIS_URL_ENV, REDIS_URL)
    reset_limiters()
    yield REDIS_URL
    reset_limiters()


def most_in_one_second(times: list[float]) -> int:
    """The most arrivals in any window [t, t + 1 s) starting at an arrival."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.slow
def test_two_worker_processes_never_exceed_the_shared_rate(redis_url):
    rpm, threads, calls = 1200, 4, 10  # 20 a second; 2 x 4 x 10 = 80 calls, about 4 s
    model = f"shared-{uuid.uuid4().hex[:8]}"  # fresh buckets
    with OpenAIServer() as server:
        command = [sys.executable, "-m", "tests.support.ratelimit_worker", server.base_url, model]
        args = [str(rpm), str(threads), str(calls)]
        env = {**os.environ, REDIS_URL_ENV: redis_url}
        workers = [subprocess.Popen([*command, *args], cwd=REPO, env=env) for _ in range(2)]
        assert [w.wait(timeout=60) for w in workers] == [0, 0]
        times = [request.at for request in server.requests]
    assert len(times) == 2 * threads * calls
    # Each process alone may send 20 a second: together they would send 40 without sharing.
    assert most_in_one_second(times) <= rpm // 60
    assert max(times) - min(times) >= (len(times) - 1) / (rpm / 60) - 0.1


def test_a_429_holds_back_every_process(redis_url):
    config = EndpointConfig(
        name="a", base_url="http://127.0.0.1:9/v1", model=f"m-{uuid.uuid4().hex[:8]}",
        requests_per_minute=6000,
    )  # fmt: skip
    with OpenAIServer() as server:
        config = EndpointConfig(**{**config.__dict__, "base_url": server.base_url})
        server.enqueue(rate_limited("1"))
        first = ChatEndpoint(config=config)
        with pytest.raises(TransientModelError) as caught:
            first.complete(messages=[{"role": "user", "content": "x"}], schema_name="x", schema={})
        assert caught.value.retry_after == 1.0
        reset_limiters()  # another process: its own limiter, the same Redis buckets
        other = ChatEndpoint(config=config)
        assert other.limiter is not first.limiter
        other.complete(messages=[{"role": "user", "content": "x"}], schema_name="x", schema={})
        gap = server.requests[1].at - server.requests[0].at
    assert 0.9 <= gap < 3.0  # it waited out the Retry-After the other process was told


def test_token_costs_are_settled_in_the_shared_bucket(redis_url):
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    buckets = SharedBuckets(
        client=redis_client(redis_url), base_url="http://x/v1", model=uuid.uuid4().hex,
        requests_per_minute=None, tokens_per_minute=600_000, sleep=sleep,
    )  # fmt: skip
    assert buckets.acquire(tokens=10_000) == 0  # a full bucket holds one second: 10,000
    buckets.settle(estimated=10_000, actual=12_000)  # the call used 2,000 more: in debt
    waited = buckets.acquire(tokens=3_000)  # debt + 3,000 at 10,000 a second
    assert waited == pytest.approx(0.5, abs=0.05) and slept[0] == pytest.approx(0.5, abs=0.05)


def test_without_redis_the_limits_hold_per_process(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "redis://127.0.0.1:9/0")  # nothing listens there
    reset_limiters()
    config = EndpointConfig(name="a", base_url="http://x/v1", model="m", requests_per_minute=60)
    limiter = ratelimit.limiter_for(config)
    assert limiter.shared is not None
    started = time.monotonic()
    assert limiter.acquire() == 0  # fell back: the local bucket has 10 s of burst
    assert time.monotonic() - started < 3
    assert limiter.requests is not None and limiter.requests.level < limiter.requests.capacity
    monkeypatch.setenv(REDIS_URL_ENV, "off")
    reset_limiters()
    assert ratelimit.limiter_for(config).shared is None
    reset_limiters()


def test_rate_limiter_alone_is_unchanged():
    assert RateLimiter(requests_per_minute=60).shared is None
