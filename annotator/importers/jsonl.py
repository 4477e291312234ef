"""Stream a JSON Lines file one line at a time: (line number, parsed value or a problem)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BadLine:
    message: str


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def read_json_lines(path: Path) -> Iterator[tuple[int, object | BadLine]]:
    """Blank lines are skipped but counted, so numbers match what an editor shows."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, BadLine(f"not UTF-8 (byte {exc.start + 1})")
                continue
            if not text.strip():
                continue
            try:
                yield number, json.loads(text, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                yield number, BadLine(f"invalid JSON: {exc.msg} (column {exc.colno})")
            except (ValueError, RecursionError) as exc:
                yield number, BadLine(f"invalid JSON: {exc}")
