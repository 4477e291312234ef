"""One problem found in an import file, and the per-line collector the readers report to."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ImportIssue:
    path: str  # the name shown to people: the file's name, or the uploaded file's name
    line: int  # 1-based; 0 for a problem with the whole file or the command's options
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}"


class LineReport:
    """Collects the problems of one line, so every problem of a file is reported in one run."""

    def __init__(self, *, path: str, line: int) -> None:
        self.path = path
        self.line = line
        self.issues: list[ImportIssue] = []

    def error(self, field: str, message: str) -> None:
        self.issues.append(ImportIssue(self.path, self.line, field, message))


def show(value: object, limit: int = 60) -> str:
    """A short rendering of a JSON value for an error message: strings quoted, long ones cut."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
