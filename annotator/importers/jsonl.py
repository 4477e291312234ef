"""Stream a JSON Lines file one line at a time: (line number, parsed value or a problem)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import orjson

from annotator.importers.storable import MAX_JSON_DEPTH

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_SKIP_CHUNK = 1024 * 1024  # an over-long line is read past in pieces this size, never whole


@dataclass(frozen=True)
class BadLine:
    message: str
    field: str = "json"


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


class LineHints(NamedTuple):
    """What the line's bytes already tell, so the readers can skip work a value cannot need."""

    # No string can hold a NUL or a lone surrogate and nesting is shallower than any limit:
    # orjson read it (it refuses lone surrogates), no \u0000 escape, few brackets.
    storable: bool = False
    # Every number is a finite float or a 64-bit int (orjson refuses the rest) and no `true` or
    # `false` is anywhere in the line, so a list of numbers holds no bool (one packs as 0 or 1).
    plain_numbers: bool = False


CAUTIOUS = LineHints()
BLANK = BadLine("blank", field="")  # read_hinted_range's blank lines, when asked for


def read_json_lines(
    path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, object | BadLine]]:
    """Blank lines are skipped but counted, so numbers match what an editor shows. A line over
    `max_line_bytes` (newline not counted) is a BadLine; no more than that is held in memory."""
    for number, value, _ in read_hinted_lines(path, max_line_bytes=max_line_bytes):
        yield number, value


def read_hinted_lines(
    path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, object | BadLine, LineHints]]:
    """read_json_lines, with each line's LineHints."""
    with path.open("rb") as fh:
        yield from _hinted(fh, end=None, max_line_bytes=max_line_bytes)


def read_hinted_range(
    path: Path,
    *,
    start: int,
    end: int,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    blank: bool = False,
) -> Iterator[tuple[int, object | BadLine, LineHints]]:
    """read_hinted_lines for the lines that start in [start, end) (both at line starts, as
    line_starts gives them); numbers count from 1 at `start`. `blank`: blank lines are given
    as BLANK, so the caller learns how many lines the range holds."""
    with path.open("rb") as fh:
        fh.seek(start)
        first = start == 0
        yield from _hinted(fh, end=end, max_line_bytes=max_line_bytes, first=first, blank=blank)


def line_starts(path: Path, *, every: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of about `every` bytes that each begin at a line's start; the
    newline after each cut is found in bounded reads, so no long line is held."""
    size = path.stat().st_size
    start = 0
    with path.open("rb") as fh:
        while start < size:
            fh.seek(min(start + every, size))
            if fh.tell() < size:
                _skip_rest_of_line(fh)
            end = fh.tell()
            yield start, end
            start = end


def _hinted(
    fh: BinaryIO, *, end: int | None, max_line_bytes: int, first: bool = True, blank: bool = False
) -> Iterator[tuple[int, object | BadLine, LineHints]]:
    number = 0
    while (end is None or fh.tell() < end) and (raw := fh.readline(max_line_bytes + 1)):
        number += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):  # the line goes on
            size = len(raw) + _skip_rest_of_line(fh)
            limit = f"the limit is {max_line_bytes:,} (MAX_IMPORT_LINE_BYTES)"
            yield number, BadLine(f"is {size:,} bytes long; {limit}", field="line"), CAUTIOUS
            continue
        if first and number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        fast = _fast(raw)
        if fast is not None:
            yield number, fast[0], fast[1]
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, BadLine(f"not UTF-8 (byte {exc.start + 1})"), CAUTIOUS
            continue
        if text.strip():
            yield number, _parse(text), CAUTIOUS
        elif blank:
            yield number, BLANK, CAUTIOUS


def _fast(raw: bytes) -> tuple[object, LineHints] | None:
    """orjson's reading, several times faster than the json module's; None for anything it
    refuses (bad JSON, a lone surrogate, deep nesting), which is read again the old way, so
    what is accepted and every message stay the json module's."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if _big_int_id(value):
        return None
    storable = _shallow(raw) and (b"\\" not in raw or b"\\u0000" not in raw)
    plain_numbers = b"true" not in raw and b"false" not in raw
    return value, LineHints(storable=storable, plain_numbers=plain_numbers)


def _shallow(raw: bytes) -> bool:
    """Fewer opening brackets than MAX_JSON_DEPTH, so no value can nest that deep. Counted by
    find (memchr), far faster than bytes.count on a DES line's 11 KB with a handful of them."""
    seen = 0
    for bracket in (b"[", b"{"):
        position = raw.find(bracket)
        while position >= 0:
            seen += 1
            if seen >= MAX_JSON_DEPTH:
                return False
            position = raw.find(bracket, position + 1)
    return True


def _big_int_id(value: object) -> bool:
    """orjson reads an integer past 64 bits as a float; only an `id` keeps such a number as it
    is (elsewhere numbers become floats anyway), so only then is the line read again."""
    return isinstance(value, dict) and type(value.get("id")) is float


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
