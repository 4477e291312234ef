"""Encoded images: a file is encoded once a process, again when it changes; the cache is bounded."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from annotator.adapters.images import EncodedImageCache, encode_image, encoded_image, image_cache


def save_picture(path: Path, *, colour: tuple[int, int, int], size=(320, 200)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_the_second_request_for_a_file_is_not_encoded_again(tmp_path):
    cache = EncodedImageCache(max_bytes=10**6)
    path = save_picture(tmp_path / "a.png", colour=(10, 20, 30))
    first = cache.encoded(path, max_side=768)
    second = cache.encoded(path, max_side=768)
    assert second is first
    assert cache.encodes == 1
    with Image.open(path) as image:
        assert first == encode_image(image, max_side=768)  # what encoding it now would give


def test_a_changed_file_or_other_settings_are_encoded_again(tmp_path):
    cache = EncodedImageCache(max_bytes=10**6)
    path = save_picture(tmp_path / "a.png", colour=(10, 20, 30))
    before = cache.encoded(path, max_side=768)
    save_picture(path, colour=(200, 20, 30), size=(160, 100))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock
    after = cache.encoded(path, max_side=768)
    assert cache.encodes == 2
    assert (before.size, after.size) == ((320, 200), (160, 100))
    assert cache.encoded(path, max_side=64).sent_size == (64, 40)
    assert cache.encodes == 3


def test_the_cache_holds_at_most_its_bytes_least_recently_used_out_first(tmp_path):
    paths = [save_picture(tmp_path / f"{i}.png", colour=(i * 40, 0, 0)) for i in range(4)]
    one = len(encode_image(Image.open(paths[0]), max_side=768).data_url)
    cache = EncodedImageCache(max_bytes=int(2.5 * one))  # room for two of these
    for path in paths[:2]:
        cache.encoded(path, max_side=768)
    cache.encoded(paths[0], max_side=768)  # used again: paths[1] is now the oldest
    cache.encoded(paths[2], max_side=768)
    assert cache.bytes_held <= cache.max_bytes
    assert cache.encodes == 3
    cache.encoded(paths[0], max_side=768)
    assert cache.encodes == 3  # kept
    cache.encoded(paths[1], max_side=768)
    assert cache.encodes == 4  # dropped, encoded again
    assert cache.bytes_held <= cache.max_bytes


def test_an_image_larger_than_the_bound_is_encoded_but_not_kept(tmp_path):
    cache = EncodedImageCache(max_bytes=100)
    path = save_picture(tmp_path / "a.png", colour=(1, 2, 3))
    cache.encoded(path, max_side=768)
    cache.encoded(path, max_side=768)
    assert (cache.encodes, cache.bytes_held) == (2, 0)


def test_threads_share_the_cache(tmp_path):
    cache = EncodedImageCache(max_bytes=10**7)
    paths = [save_picture(tmp_path / f"{i}.png", colour=(0, i * 20, 0)) for i in range(6)]
    results: list[str] = []

    def work() -> None:
        for _ in range(5):
            for path in paths:
                results.append(cache.encoded(path, max_side=768).data_url)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 * 5 * 6 and len(set(results)) == 6
    assert cache.encodes == 6  # a thread that misses an image being encoded waits for it
    held = {cache.encoded(path, max_side=768).data_url for path in paths}
    assert cache.bytes_held == sum(len(url) for url in held)


def test_a_failed_encode_is_raised_and_tried_again_next_time(tmp_path):
    cache = EncodedImageCache(max_bytes=10**6)
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    for _ in range(2):  # nothing left waiting on the failed encode
        with pytest.raises(UnidentifiedImageError):
            cache.encoded(path, max_side=768)
    save_picture(path, colour=(5, 5, 5))
    assert cache.encoded(path, max_side=768).size == (320, 200)


def test_only_files_go_through_the_process_cache(tmp_path):
    image_cache.clear()
    path = save_picture(tmp_path / "a.png", colour=(9, 9, 9))
    before = image_cache.encodes
    encoded_image(path.read_bytes(), max_side=768)
    encoded_image(Image.open(path), max_side=768)
    assert image_cache.encodes == before
    encoded_image(path, max_side=768)
    assert image_cache.encodes == before + 1


@pytest.fixture(autouse=True)
def _empty_process_cache():
    yield
    image_cache.clear()
