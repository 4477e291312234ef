from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from annotator.lib.embedding_cache import (
    DiskEmbeddingCache,
    RedisEmbeddingCache,
    _dumps,
    embedding_key,
    get_embedding_cache,
)

SHAPE = (1, 8, 16, 16)  # 2048 float16 values: 4 KiB a payload


def _array(value: float, dtype: type = np.float16) -> np.ndarray:
    return np.full(SHAPE, value, dtype=dtype)


def _payload_size() -> int:
    return len(_dumps(_array(0.0)))


def test_embedding_key_names_model_and_content():
    key = embedding_key(content_hash="ab12", model_name="sam-vit_b:sam_vit_b_01ec64")
    assert key == "sam-vit_b:sam_vit_b_01ec64:ab12"


# Disk ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_disk_round_trip_keeps_dtype_shape_and_values(tmp_path: Path, dtype: type):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**6)
    array: np.ndarray = np.random.default_rng(0).standard_normal(SHAPE).astype(dtype)
    cache.put("k", array)
    restored = cache.get("k")
    assert restored is not None
    assert restored.dtype == dtype
    assert np.array_equal(restored, array)
    assert cache.get("other") is None
    assert (cache.contains("k"), cache.contains("other")) == (True, False)


def test_disk_evicts_least_recently_used_beyond_the_cap(tmp_path: Path):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=3 * _payload_size())
    for value, key in enumerate("abc"):
        cache.put(key, _array(value))
    assert cache.get("a") is not None  # a is now more recent than b
    cache.put("d", _array(3))
    assert cache.get("b") is None
    assert [cache.get(key) is not None for key in "acd"] == [True, True, True]
    total = sum(path.stat().st_size for path in tmp_path.glob("*.npy"))
    assert total <= cache.max_bytes


def test_disk_refuses_an_entry_larger_than_the_cap(tmp_path: Path):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=_payload_size() - 1)
    cache.put("big", _array(1))
    assert cache.get("big") is None
    assert list(tmp_path.iterdir()) == []


def test_disk_drops_a_damaged_file_as_a_miss(tmp_path: Path):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**6)
    cache.put("k", _array(1))
    (path,) = tmp_path.glob("*.npy")
    path.write_bytes(path.read_bytes()[:50])
    assert cache.get("k") is None
    assert not path.exists()


def _hammer(directory: str, worker: int, rounds: int, max_bytes: int) -> None:
    cache = DiskEmbeddingCache(Path(directory), max_bytes=max_bytes)
    for round_ in range(rounds):
        cache.put(f"k{round_ % 5}", _array(worker * 1000 + round_))
        cache.get(f"k{(round_ + 2) % 5}")


def test_disk_is_safe_with_concurrent_writers_in_other_processes(tmp_path: Path, caplog):
    max_bytes = 3 * _payload_size()
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_hammer, args=(str(tmp_path), worker, 200, max_bytes))
        for worker in (1, 2)
    ]
    for process in writers:
        process.start()
    reader = DiskEmbeddingCache(tmp_path, max_bytes=max_bytes)
    seen = 0
    while any(process.is_alive() for process in writers):
        for key in ("k0", "k1", "k2", "k3", "k4"):
            array = reader.get(key)
            if array is not None:  # always a whole array from one put, never a torn one
                seen += 1
                assert array.shape == SHAPE
                assert np.unique(array).size == 1
    for process in writers:
        process.join()
        assert process.exitcode == 0
    assert seen > 0
    assert "unreadable" not in caplog.text  # no torn file was ever seen
    assert not list(tmp_path.glob("*.tmp"))
    assert sum(path.stat().st_size for path in tmp_path.glob("*.npy")) <= max_bytes


# Settings --------------------------------------------------------------------------------------


def test_settings_choose_the_backend(settings, tmp_path: Path):
    settings.DATA_DIR = tmp_path
    settings.EMBEDDING_CACHE_URL = ""
    default = get_embedding_cache()
    assert isinstance(default, DiskEmbeddingCache)
    assert default.directory == tmp_path / "embeddings"
    settings.EMBEDDING_CACHE_URL = f"file://{tmp_path / 'shared'}"
    shared = get_embedding_cache()
    assert isinstance(shared, DiskEmbeddingCache)
    assert shared.directory == tmp_path / "shared"
    assert get_embedding_cache() is shared  # one object per configuration and process
    settings.EMBEDDING_CACHE_URL = "redis://127.0.0.1:6379/14"
    assert isinstance(get_embedding_cache(), RedisEmbeddingCache)
    settings.EMBEDDING_CACHE_URL = "ftp://example.org/x"
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_CACHE_URL"):
        get_embedding_cache()


def test_redis_that_cannot_be_reached_is_a_miss_not_an_error():
    cache = RedisEmbeddingCache("redis://127.0.0.1:1/0", max_bytes=10**6)
    cache.put("k", _array(1))
    assert cache.get("k") is None
    assert cache.contains("k") is False


# Redis -----------------------------------------------------------------------------------------


@pytest.fixture
def redis_cache_factory():
    url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    made: list[RedisEmbeddingCache] = []

    def make(max_bytes: int) -> RedisEmbeddingCache:
        # A prefix of its own: the test never touches keys the app or Celery uses.
        cache = RedisEmbeddingCache(
            url, max_bytes=max_bytes, prefix=f"emoreview:emb:test-{uuid.uuid4().hex}:"
        )
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.clear()


@pytest.mark.redis
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_redis_round_trip(redis_cache_factory, dtype: type):
    cache = redis_cache_factory(10**6)
    array: np.ndarray = np.random.default_rng(1).standard_normal(SHAPE).astype(dtype)
    cache.put("k", array)
    restored = cache.get("k")
    assert restored is not None
    assert restored.dtype == dtype
    assert np.array_equal(restored, array)
    assert cache.get("missing") is None
    assert (cache.contains("k"), cache.contains("missing")) == (True, False)


@pytest.mark.redis
def test_redis_evicts_least_recently_used_and_keeps_its_byte_count(redis_cache_factory):
    size = _payload_size()
    cache = redis_cache_factory(3 * size)
    for value, key in enumerate("abc"):
        cache.put(key, _array(value))
    assert cache.get("a") is not None
    cache.put("b", _array(10))  # replacing an entry counts its size once
    assert cache.total_bytes() == 3 * size
    assert cache.get("c") is not None
    cache.put("d", _array(3))
    assert cache.get("a") is None  # b, c were touched after a
    assert [cache.get(key) is not None for key in "bcd"] == [True, True, True]
    assert cache.total_bytes() == 3 * size


@pytest.mark.redis
def test_redis_cap_holds_under_concurrent_writers(redis_cache_factory):
    size = _payload_size()
    cache = redis_cache_factory(4 * size)

    def hammer(worker: int) -> None:
        for round_ in range(100):
            cache.put(f"k{(worker + round_) % 9}", _array(round_))
            cache.get(f"k{round_ % 9}")

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    present = [key for key in (f"k{i}" for i in range(9)) if cache.get(key) is not None]
    assert cache.total_bytes() == len(present) * size
    assert cache.total_bytes() <= 4 * size


@pytest.mark.redis
def test_redis_damaged_payload_is_a_miss(redis_cache_factory):
    cache = redis_cache_factory(10**6)
    cache.put("k", _array(1))
    cache._client.hset(cache._data, "k", b"\x93NUMPY garbage")
    assert cache.get("k") is None
