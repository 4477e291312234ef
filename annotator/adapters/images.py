"""Images as the chat endpoints take them: upright, downscaled, JPEG, a base64 data URL.

Each of a sample's model calls (two VLMs and the critic) sends the same image, so an image
given as a file is encoded once a process and kept in a small cache bounded by bytes (least
recently used out first), keyed by the file, its size and modification time, and the encode
settings: a changed file is encoded again.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

JPEG_QUALITY = 90
# A 768-px photo is ~100-200 KB as a data URL: a few hundred images, enough for a chunk's
# annotate and critic units to meet their image again.
CACHE_MAX_BYTES = int(os.environ.get("EMOREVIEW_IMAGE_CACHE_BYTES", 64 * 1024 * 1024))

ImageInput = Path | Image.Image | bytes


@dataclass(frozen=True)
class EncodedImage:
    data_url: str
    size: tuple[int, int]  # the original (EXIF-upright) width and height
    sent_size: tuple[int, int]


def encode_image(image: Image.Image | bytes, *, max_side: int) -> EncodedImage:
    """Upright, RGB, longest side at most `max_side`, JPEG, as a base64 data URL."""
    if isinstance(image, bytes | bytearray):
        image = Image.open(io.BytesIO(image))
    upright = ImageOps.exif_transpose(image) or image
    size = upright.size
    small = upright.convert("RGB")
    if max(size) > max_side:
        small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return EncodedImage(f"data:image/jpeg;base64,{data}", size, small.size)


CacheKey = tuple[str, int, int, int, int]  # path, mtime ns, size, max_side, JPEG quality


class EncodedImageCache:
    """Thread-safe: a worker's threads share it. A chunk runs a sample's two annotate units at
    the same time, so a thread that misses an image another is encoding waits for that one."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.encodes = 0  # real encodes, for tests and profiles
        self._entries: OrderedDict[CacheKey, EncodedImage] = OrderedDict()
        self._bytes = 0
        self._encoding: dict[CacheKey, Future[EncodedImage]] = {}
        self._lock = threading.Lock()

    @property
    def bytes_held(self) -> int:
        with self._lock:
            return self._bytes

    def encoded(self, path: Path, *, max_side: int) -> EncodedImage:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, max_side, JPEG_QUALITY)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            underway = self._encoding.get(key)
            if underway is None:
                underway = self._encoding[key] = Future()
                mine = True
            else:
                mine = False
        if not mine:
            return underway.result()
        try:
            with Image.open(path) as image:
                encoded = encode_image(image, max_side=max_side)
        except BaseException as exc:
            with self._lock:
                del self._encoding[key]
            underway.set_exception(exc)  # the waiters fail as this call does; the next tries again
            raise
        self._keep(key, encoded)
        underway.set_result(encoded)
        return encoded

    def _keep(self, key: CacheKey, encoded: EncodedImage) -> None:
        size = len(encoded.data_url)
        with self._lock:
            del self._encoding[key]
            self.encodes += 1
            if size > self.max_bytes or key in self._entries:
                return
            self._entries[key] = encoded
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.data_url)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


image_cache = EncodedImageCache(max_bytes=CACHE_MAX_BYTES)


def encoded_image(image: ImageInput, *, max_side: int) -> EncodedImage:
    """A file through this process's cache; an image or bytes already in memory encoded now."""
    if isinstance(image, Path):
        return image_cache.encoded(image, max_side=max_side)
    return encode_image(image, max_side=max_side)
