"""Read a CSV file of human annotations: header check, then (line number, row dict) per record."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from annotator.importers.issues import ImportIssue


class CsvProblem(Exception):
    """The file as a whole cannot be read (encoding, header); carries the issues."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__(issues)


def read_text(path: Path, *, shown: str) -> str:
    """The whole file as text (UTF-8, BOM allowed); a decoding problem names its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 (byte {exc.start + 1})"
        raise CsvProblem([ImportIssue(shown, line, "file", message)]) from exc


def read_rows(
    text: str, *, shown: str, required: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str] | ImportIssue]]:
    """Records as {column: stripped value}, keyed by the header's names (any order, any case).

    A record with the wrong number of fields yields an ImportIssue instead of a dict; blank
    lines are skipped. Raises CsvProblem when the header lacks a required column or names an
    unknown one.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
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
