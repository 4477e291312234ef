"""Reading pipeline config files with bounds: regular files only, at most a size.

A path named on the Runs page once made a web worker read /dev/zero until the host ran out of
memory. A config is read here: opened without blocking (a fifo would wait for a writer), checked
to be a regular file on the open descriptor (no device, fifo or directory, whatever a symlink
pointed to), and read to at most `max_bytes` + 1. The Runs page also takes files only from
the configured directories (PIPELINE_CONFIG_DIRS), after resolving symlinks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from annotator.pipeline.errors import PipelineConfigError

DEFAULT_MAX_BYTES = 256 * 1024


def default_max_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "PIPELINE_CONFIG_MAX_BYTES", DEFAULT_MAX_BYTES))


def too_large(name: str, max_bytes: int) -> str:
    return f"{name}: larger than {max_bytes:,} bytes (PIPELINE_CONFIG_MAX_BYTES)"


def read_config_file(*, path: Path, max_bytes: int | None = None) -> str:
    """The file's text; PipelineConfigError when it is not a readable regular file, is larger
    than `max_bytes`, or is not UTF-8."""
    limit = default_max_bytes() if max_bytes is None else max_bytes
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise PipelineConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise PipelineConfigError([f"{path}: not a regular file"])
        data = file.read(limit + 1)
    return decode_config(name=str(path), data=data, max_bytes=limit)


def decode_config(*, name: str, data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise PipelineConfigError([too_large(name, max_bytes)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineConfigError([f"{name}: not UTF-8 text ({exc.reason})"]) from exc


def config_choices(*, dirs: Sequence[Path]) -> list[Path]:
    """The *.toml files in these directories (not below), symlinks resolved, that stay inside
    one of them and are regular files."""
    found: list[Path] = []
    for folder in dirs:
        try:
            entries = sorted(folder.glob("*.toml"))
        except OSError:
            continue
        for entry in entries:
            resolved = inside_dirs(path=entry, dirs=dirs)
            if resolved is not None and resolved.is_file() and resolved not in found:
                found.append(resolved)
    return found


def inside_dirs(*, path: Path, dirs: Sequence[Path]) -> Path | None:
    """The path with symlinks resolved when it lies inside one of `dirs`, else None."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    roots = [Path(folder).resolve() for folder in dirs]
    return resolved if any(resolved.is_relative_to(root) for root in roots) else None
