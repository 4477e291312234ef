"""A size-capped, least-recently-used store of image embeddings shared by worker processes.

SAM's image encoder is the slow part of a click (vit_b: ~25 s per image on a 2-core CPU); its
decoder is ~0.1 s. The segmenters keep each image's embedding here (float16, 2 MiB for vit_b),
keyed by `embedding_key(content_hash=..., model_name=...)`, so that any worker can restore it
instead of encoding again. Two backends, chosen by settings.EMBEDDING_CACHE_URL:

- "" or "file:///path": one .npy file per key in a directory (default DATA_DIR/embeddings).
  Writes go to a temporary file and are renamed into place, so readers in other processes see
  a whole file or none; a read touches the file's mtime, and eviction drops the oldest mtimes.
- "redis://...": one hash of payloads, a sorted set of last-access times and a byte counter
  under the "emoreview:emb:" prefix; a Lua script stores and evicts atomically.

A cache failure (Redis down, a damaged file) counts as a miss: the caller recomputes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

REDIS_PREFIX = "emoreview:emb:"
_STALE_TMP_SECONDS = 3600
_UNREADABLE = (ValueError, EOFError, OSError)  # what np.load raises on a damaged payload


class EmbeddingCache(Protocol):
    def get(self, key: str) -> np.ndarray | None: ...

    def contains(self, key: str) -> bool:
        """Whether `key` is cached now (without reading it)."""
        ...

    def put(self, key: str, array: np.ndarray) -> None: ...


def embedding_key(*, content_hash: str, model_name: str) -> str:
    """The cache key of one image's embedding under one model (weights included in the name)."""
    return f"{model_name}:{content_hash}"


def _dumps(array: np.ndarray) -> bytes:
    # The .npy format: a small header with dtype and shape, then the raw values.
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _loads(payload: bytes) -> np.ndarray:
    return np.load(io.BytesIO(payload), allow_pickle=False)


def _touch(path: Path) -> None:
    # mtime = last access (atime is unreliable on noatime/relatime mounts). Set from the fine
    # clock: the kernel's own file times tick only every few milliseconds.
    now = time.time_ns()
    os.utime(path, ns=(now, now))


class DiskEmbeddingCache:
    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            array = _loads(payload)
        except _UNREADABLE:
            logger.warning("embedding cache: dropping unreadable %s", path)
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(FileNotFoundError):  # evicted meanwhile: we have the values
            _touch(path)
        return array

    def contains(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, array: np.ndarray) -> None:
        payload = _dumps(array)
        if len(payload) > self.max_bytes:
            return
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            _touch(Path(tmp))
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._evict()

    def _entries(self) -> list[tuple[int, int, Path]]:
        entries = []
        now = time.time()
        for path in self.directory.iterdir():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.suffix == ".npy":
                entries.append((stat.st_mtime_ns, stat.st_size, path))
            elif path.suffix == ".tmp" and now - stat.st_mtime > _STALE_TMP_SECONDS:
                path.unlink(missing_ok=True)  # left by a process that died mid-write
        return entries

    def _evict(self) -> None:
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)  # another process may have evicted it already
            total -= size


# KEYS: data hash, size hash, last-access zset, total counter.
# ARGV: key, payload, payload size, now, max bytes.
_PUT_SCRIPT = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('DECRBY', KEYS[4], old) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local total = redis.call('INCRBY', KEYS[4], ARGV[3])
local limit = tonumber(ARGV[5])
while total > limit do
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if not oldest then break end
  local size = tonumber(redis.call('HGET', KEYS[2], oldest) or '0')
  redis.call('HDEL', KEYS[1], oldest)
  redis.call('HDEL', KEYS[2], oldest)
  redis.call('ZREM', KEYS[3], oldest)
  total = redis.call('DECRBY', KEYS[4], size)
end
return total
"""


class RedisEmbeddingCache:
    def __init__(self, url: str, *, max_bytes: int, prefix: str = REDIS_PREFIX) -> None:
        import redis

        self.max_bytes = max_bytes
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, *_UNREADABLE)
        self._client = redis.Redis.from_url(url)
        self._data, self._sizes, self._lru, self._total = (
            f"{prefix}{part}" for part in ("data", "size", "lru", "total")
        )
        self._put = self._client.register_script(_PUT_SCRIPT)

    def get(self, key: str) -> np.ndarray | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(self._data, key)
        pipe.zadd(self._lru, {key: time.time()}, xx=True)  # touch, unless evicted meanwhile
        try:
            payload, _ = pipe.execute()
            return None if payload is None else _loads(payload)
        except self._errors as exc:
            logger.warning("embedding cache: Redis read of %s failed (%s); recomputing", key, exc)
            return None

    def contains(self, key: str) -> bool:
        try:
            return bool(self._client.hexists(self._data, key))
        except self._errors:
            return False

    def put(self, key: str, array: np.ndarray) -> None:
        payload = _dumps(array)
        if len(payload) > self.max_bytes:
            return
        keys = [self._data, self._sizes, self._lru, self._total]
        try:
            self._put(keys=keys, args=[key, payload, len(payload), time.time(), self.max_bytes])
        except self._errors as exc:
            logger.warning("embedding cache: Redis write failed (%s); not cached", exc)

    def total_bytes(self) -> int:
        return int(self._client.get(self._total) or 0)

    def clear(self) -> None:
        self._client.delete(self._data, self._sizes, self._lru, self._total)


@functools.lru_cache(maxsize=8)
def open_embedding_cache(*, url: str, max_bytes: int, default_dir: Path) -> EmbeddingCache:
    """One cache object per configuration and process (the Redis one holds a connection pool)."""
    scheme = urlparse(url).scheme
    if not url:
        return DiskEmbeddingCache(default_dir, max_bytes=max_bytes)
    if scheme == "file":
        return DiskEmbeddingCache(Path(urlparse(url).path), max_bytes=max_bytes)
    if scheme in {"redis", "rediss", "unix"}:
        return RedisEmbeddingCache(url, max_bytes=max_bytes)
    raise ImproperlyConfigured(
        f"EMBEDDING_CACHE_URL={url!r}: use '' (disk under DATA_DIR/embeddings), "
        "file:///a/directory or redis://host:port/db"
    )


def get_embedding_cache() -> EmbeddingCache:
    """The cache settings name: EMBEDDING_CACHE_URL, EMBEDDING_CACHE_MAX_BYTES."""
    return open_embedding_cache(
        url=settings.EMBEDDING_CACHE_URL,
        max_bytes=settings.EMBEDDING_CACHE_MAX_BYTES,
        default_dir=settings.DATA_DIR / "embeddings",
    )
