"""Images on disk: the allowed roots, paths that must stay inside them, size and content hash."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError


class ImageInfo(NamedTuple):
    width: int
    height: int
    content_hash: str  # sha256 of the file's bytes, hex


class ImageProblem(Exception):
    """Why an image cannot be used; the message follows the quoted path ("'a.jpg' is not ...")."""


def check_images_root(root: Path, *, allowed: Sequence[Path]) -> str | None:
    """None when `root` is an existing directory inside one of `allowed`; else the reason."""
    resolved = root.expanduser().resolve()
    if not any(resolved.is_relative_to(Path(a).resolve()) for a in allowed):
        roots = ", ".join(str(a) for a in allowed) or "none configured"
        return f"{str(root)!r} is not inside an allowed import root (IMPORT_ROOTS: {roots})"
    if not resolved.is_dir():
        return f"{str(root)!r} is not a directory"
    return None


def locate_image(root: Path, relative: str) -> Path:
    """The file `relative` names under `root` (resolved), refusing symlinks that lead outside."""
    resolved_root = root.resolve()
    candidate = (resolved_root / relative).resolve()
    if not candidate.is_relative_to(resolved_root):
        raise ImageProblem("leads outside the images root (through a symlink)")
    if not candidate.exists():
        raise ImageProblem("does not exist under the images root")
    if not candidate.is_file():
        raise ImageProblem("is not a file")
    return candidate


def probe_image(path: Path, *, max_pixels: int) -> ImageInfo:
    """Width, height (as stored; EXIF orientation not applied) and sha256 of the bytes.

    An image over `max_pixels` is refused from its header, before its pixels are decoded;
    every other one is decoded in full once, so a truncated or corrupt file is refused here and
    not later in a worker. Pillow's global guard is left as it is (it would also bind the mask
    workers of this process); its error, over twice its own limit, is a refusal too.
    """
    try:
        with path.open("rb") as fh:
            content_hash = hashlib.file_digest(fh, "sha256").hexdigest()
            fh.seek(0)
            with warnings.catch_warnings():
                # Pillow warns over its own limit; the check against max_pixels decides here.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(fh) as image:
                    width, height = image.size
                    if width * height > max_pixels:
                        raise ImageProblem(_too_large(width * height, max_pixels))
                    _decode(image)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageProblem(_too_large(int(found.group(1)) if found else None, max_pixels)) from exc
    except UnidentifiedImageError as exc:
        raise ImageProblem("is not an image Pillow can read") from exc
    except OSError as exc:
        raise ImageProblem(f"cannot be read: {exc.strerror or exc}") from exc
    if width <= 0 or height <= 0:
        raise ImageProblem(f"has no pixels ({width}x{height})")
    return ImageInfo(width, height, content_hash)


def _decode(image: Image.Image) -> None:
    """Decode every pixel (the bytes are hostile until then); any decoder failure is a problem."""
    try:
        image.load()
    except Image.DecompressionBombError:
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, ...
        raise ImageProblem(f"cannot be decoded: {exc}") from exc


def _too_large(pixels: int | None, max_pixels: int) -> str:
    count = f"{pixels:,} pixels" if pixels is not None else "too many pixels"
    return f"is too large: {count}; the limit is {max_pixels:,} (MAX_IMAGE_PIXELS)"


class ImageCache:
    """probe_image once per distinct path during one import: EmoVerse lines share images (one
    per B-A-S element, several annotators). Bounded, so a file of all-distinct images keeps
    memory flat; a problem is remembered like the facts, for every line naming that file."""

    MAX_ENTRIES = 65_536

    def __init__(self, root: Path, *, max_pixels: int) -> None:
        self.root, self.max_pixels = root, max_pixels
        self._seen: dict[str, ImageInfo | ImageProblem] = {}

    def probe(self, relative: str) -> ImageInfo:
        found = self._seen.get(relative)
        if found is None:
            try:
                found = probe_image(locate_image(self.root, relative), max_pixels=self.max_pixels)
            except ImageProblem as exc:
                found = exc
            if len(self._seen) >= self.MAX_ENTRIES:
                del self._seen[next(iter(self._seen))]  # the oldest
            self._seen[relative] = found
        if isinstance(found, ImageProblem):
            raise found
        return found
