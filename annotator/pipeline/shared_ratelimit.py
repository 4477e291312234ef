"""Rate limits shared by every worker process and machine: token buckets in Redis, one Lua script.

Why a Lua script and not the `limits` library: a call's token cost is only an estimate until the
endpoint reports its usage, so the bucket must take a cost, tell how long to wait for it, and
later be charged the difference (even into debt); and a 429's Retry-After must hold back every
worker. `limits` offers fixed or moving windows of hits (`hit`, `test`), with no settling of a
cost after the fact and no "how long until"; a 25-line script does all of it atomically, on the
Redis clock (TIME, so the machines' clocks do not matter), in one round trip per call.

Buckets are per (base_url, model): two annotator tables that name the same endpoint and model
share the provider's limit. The request bucket holds one request (calls are spaced 1/rate
apart: no second ever sees more than the rate); the token bucket holds one second's tokens.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

KEY_PREFIX = "emoreview:ratelimit"
# KEYS: request bucket, token bucket, pause-until. ARGV: mode ("take" or "settle"),
# request rate/s (0: none), token rate/s (0: none), token capacity, tokens.
# Returns the seconds to wait (as text: Lua numbers go back to Redis as integers), "0" = taken.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local mode, rrate, trate = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local tcap, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local function level(key, rate, cap)
  local v = redis.call('HMGET', key, 'level', 'updated')
  local lv, up = tonumber(v[1]) or cap, tonumber(v[2]) or now
  return math.min(cap, lv + math.max(0, now - up) * rate)
end
local function store(key, lv, rate, cap)
  redis.call('HSET', key, 'level', tostring(lv), 'updated', tostring(now))
  redis.call('EXPIRE', key, math.ceil((cap + math.max(0, -lv)) / rate) + 60)
end
if mode == 'settle' then
  if trate > 0 then store(KEYS[2], level(KEYS[2], trate, tcap) - cost, trate, tcap) end
  return '0'
end
local wait = math.max(0, (tonumber(redis.call('GET', KEYS[3])) or 0) - now)
local rl, tl
if rrate > 0 then rl = level(KEYS[1], rrate, 1); wait = math.max(wait, (1 - rl) / rrate) end
if trate > 0 then
  tl = level(KEYS[2], trate, tcap)
  wait = math.max(wait, (math.min(cost, tcap) - tl) / trate)
end
if wait > 0 then return tostring(wait) end
if rrate > 0 then store(KEYS[1], rl - 1, rrate, 1) end
if trate > 0 then store(KEYS[2], tl - cost, trate, tcap) end
return '0'
"""


class SharedLimitsUnavailable(Exception):
    """Redis did not answer: the caller limits within its process meanwhile."""


class SharedBuckets:
    """The Redis side of one endpoint's limits."""

    def __init__(
        self,
        *,
        client: Any,
        base_url: str,
        model: str,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        prefix = f"{KEY_PREFIX}:{base_url}:{model}"
        self.keys = [f"{prefix}:requests", f"{prefix}:tokens", f"{prefix}:pause"]
        self.request_rate = (requests_per_minute or 0) / 60.0
        self.token_rate = (tokens_per_minute or 0) / 60.0
        self.token_capacity = max(1.0, self.token_rate)  # one second's tokens
        self.script = client.register_script(_SCRIPT)
        self._sleep = sleep

    def acquire(self, *, tokens: int = 0) -> float:
        """Block until this process may send one request costing `tokens`; the seconds waited."""
        waited = 0.0
        while True:
            wait = float(self._run("take", tokens))
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def settle(self, *, estimated: int, actual: int | None) -> None:
        if self.token_rate and actual is not None:
            self._run("settle", actual - estimated)

    def pause(self, seconds: float) -> None:
        """Hold back every worker's calls to this endpoint (a 429's Retry-After)."""
        import redis

        try:
            now_s, now_us = self.client.time()
            until = now_s + now_us / 1_000_000 + seconds
            self.client.set(self.keys[2], repr(until), px=math.ceil(seconds * 1000) + 1000)
        except (redis.RedisError, OSError) as exc:
            raise SharedLimitsUnavailable(str(exc)) from exc

    def _run(self, mode: str, tokens: int) -> Any:
        import redis

        args = [mode, self.request_rate, self.token_rate, self.token_capacity, tokens]
        try:
            return self.script(keys=self.keys, args=args)
        except (redis.RedisError, OSError) as exc:
            raise SharedLimitsUnavailable(str(exc)) from exc


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def redis_client(url: str) -> Any:
    """One client (a connection pool) per URL and process."""
    import redis

    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        return _clients[url]
