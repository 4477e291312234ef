"""Read a CSV file of human annotations: header check, then (line number, row dict) per record.

The file is streamed one physical line at a time (UTF-8 decoded per line, so a bad byte names
its line), each line bounded by MAX_IMPORT_LINE_BYTES; what the csv module refuses (a field
over its limit) is an issue on its line, never a traceback.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from annotator.importers.issues import ImportIssue

DEFAULT_MAX_LINE_BYTES = 1024 * 1024


class CsvProblem(Exception):
    """The file cannot be read on (encoding, header, a line too long); carries the issues."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__(issues)


def read_rows(
    path: Path,
    *,
    shown: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[tuple[int, dict[str, str] | ImportIssue]]:
    """Records as {column: stripped value}, keyed by the header's names (any order, any case).

    A record with the wrong number of fields yields an ImportIssue instead of a dict; blank
    lines are skipped. Raises CsvProblem when the header lacks a required column or names an
    unknown one, and where reading cannot go on (a line not UTF-8 or too long, a csv error).
    """
    with path.open("rb") as fh:
        reader = csv.reader(_lines(fh, shown=shown, max_line_bytes=max_line_bytes))
        try:
            header = next(reader, None)
            columns = [name.strip().casefold() for name in header or []]
            _check_header(columns, shown=shown, required=required, optional=optional)
            width = len(columns)
            for fields in reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != width:
                    message = f"expected {width} fields ({', '.join(columns)}), got {len(fields)}"
                    yield reader.line_num, ImportIssue(shown, reader.line_num, "row", message)
                    continue
                yield reader.line_num, {c: v.strip() for c, v in zip(columns, fields, strict=True)}
        except csv.Error as exc:
            line = reader.line_num
            raise CsvProblem([ImportIssue(shown, line, "row", f"unreadable CSV: {exc}")]) from exc


def _lines(fh: BinaryIO, *, shown: str, max_line_bytes: int) -> Iterator[str]:
    number = 0
    while raw := fh.readline(max_line_bytes + 1):
        number += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            message = f"is longer than {max_line_bytes:,} bytes (MAX_IMPORT_LINE_BYTES)"
            raise CsvProblem([ImportIssue(shown, number, "line", message)])
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            message = f"not UTF-8 (byte {exc.start + 1} of the line)"
            raise CsvProblem([ImportIssue(shown, number, "file", message)]) from exc


def _check_header(
    columns: list[str], *, shown: str, required: Sequence[str], optional: Sequence[str]
) -> None:
    if not columns:
        raise CsvProblem([ImportIssue(shown, 0, "file", "is empty (no header line)")])
    issues = []
    missing = [name for name in required if name not in columns]
    if missing:
        message = f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        issues.append(ImportIssue(shown, 1, "header", message))
    allowed = set(required) | set(optional)
    unknown = [name for name in columns if name not in allowed]
    if unknown:
        known = ", ".join([*required, *optional])
        message = f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
        issues.append(ImportIssue(shown, 1, "header", message + f"(expected: {known})"))
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        issues.append(ImportIssue(shown, 1, "header", f"repeated column {', '.join(repeated)}"))
    if issues:
        raise CsvProblem(issues)
