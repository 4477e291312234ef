"""Stream a JSON Lines file one line at a time: (line number, parsed value or a problem)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
_SKIP_CHUNK = 1024 * 1024  # an over-long line is read past in pieces this size, never whole


@dataclass(frozen=True)
class BadLine:
    message: str
    field: str = "json"


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def read_json_lines(
    path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, object | BadLine]]:
    """Blank lines are skipped but counted, so numbers match what an editor shows. A line over
    `max_line_bytes` (newline not counted) is a BadLine; no more than that is held in memory."""
    with path.open("rb") as fh:
        number = 0
        while raw := fh.readline(max_line_bytes + 1):
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):  # the line goes on
                size = len(raw) + _skip_rest_of_line(fh)
                limit = f"the limit is {max_line_bytes:,} (MAX_IMPORT_LINE_BYTES)"
                yield number, BadLine(f"is {size:,} bytes long; {limit}", field="line")
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, BadLine(f"not UTF-8 (byte {exc.start + 1})")
                continue
            if text.strip():
                yield number, _parse(text)


def _skip_rest_of_line(fh: BinaryIO) -> int:
    """Read to the end of the current line in bounded pieces; the bytes skipped (no newline)."""
    skipped = 0
    while piece := fh.readline(_SKIP_CHUNK):
        if piece.endswith(b"\n"):
            return skipped + len(piece) - 1
        skipped += len(piece)
    return skipped


def _parse(text: str) -> object | BadLine:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return BadLine(f"invalid JSON: {exc.msg} (column {exc.colno})")
    except (ValueError, RecursionError) as exc:
        return BadLine(f"invalid JSON: {exc}")
