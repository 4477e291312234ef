"""What every export writer shares: a sink that hands pyarrow's bytes over as they come, and
writing a chunk stream to a file atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from review.services.export_formats import ExportChunk


class ChunkDrain:
    """A write-only file for pyarrow that keeps what was written until taken: Parquet bytes
    leave row group by row group instead of after the whole file."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False
        self.position = 0

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self.parts.append(raw)
        self.position += len(raw)
        return len(raw)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def write_chunks_atomically(*, chunks: Iterable[ExportChunk], path: Path) -> int:
    """Write the chunks to `path` through a temporary file beside it, then os.replace: a failed
    export leaves no file and an older one untouched. Returns the rows the chunks finished."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk.data)
                written += chunk.rows
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written
