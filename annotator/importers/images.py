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

    The image is decoded in full once, so a truncated or corrupt file is refused here and not
    later in a worker. Pillow's decompression-bomb guard stays on, and its warning (over
    max_pixels) is an error here just like its error (over twice that): an image over the
    limit is refused from its header, before its pixels are decoded.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with path.open("rb") as fh:
            content_hash = hashlib.file_digest(fh, "sha256").hexdigest()
            fh.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(fh) as image:
                    width, height = image.size
                    _decode(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(_too_large(str(exc), max_pixels)) from exc
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, ...
        raise ImageProblem(f"cannot be decoded: {exc}") from exc


def _too_large(message: str, max_pixels: int) -> str:
    """Pillow's bomb message, e.g. "Image size (88000000 pixels) exceeds limit of ...", as
    "is too large: 88,000,000 pixels; the limit is 40,000,000 (MAX_IMAGE_PIXELS)"."""
    found = re.search(r"\((\d+) pixels\)", message)
    pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return f"is too large: {pixels}; the limit is {max_pixels:,} (MAX_IMAGE_PIXELS)"
