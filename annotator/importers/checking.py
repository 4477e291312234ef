"""One pass over an import file: each line parsed and checked once, valid lines handed on in
batches as they come, every problem collected (at most MAX_SHOWN_ISSUES kept, then a count).

The caller writes the batches inside its transaction and stops writing at the first problem
(the rest of the file is still checked, so one run lists every problem); a file with any
problem raises ImportFailed there and the transaction rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from annotator.importers.images import ImageCache
from annotator.importers.issues import ImportIssue
from annotator.importers.jsonl import read_hinted_lines
from annotator.importers.lines import CheckedLine, LineOutcome, LineSetup, check_value
from annotator.importers.parallel import check_in_workers, worker_count
from annotator.importers.records import ParseContext
from annotator.importers.rows import PreparedLine, RowContext

MAX_SHOWN_ISSUES = 200  # a wrong file would otherwise list every one of its lines


class Problems:
    """The problems found so far: the first MAX_SHOWN_ISSUES, then only counted."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.kept: list[ImportIssue] = []
        self.hidden = 0

    def add(self, issues: list[ImportIssue]) -> None:
        room = MAX_SHOWN_ISSUES - len(self.kept)
        self.kept.extend(issues[:room])
        self.hidden += max(0, len(issues) - room)

    def __bool__(self) -> bool:
        return bool(self.kept)

    def as_list(self) -> list[ImportIssue]:
        more = [ImportIssue(self.shown, 0, "file", f"and {self.hidden} more problems")]
        return self.kept + (more if self.hidden else [])


def check_file(
    *,
    path: Path,
    shown: str,
    root: Path,
    ctx: ParseContext,
    max_line_bytes: int,
    max_pixels: int,
    batch_size: int,
    write: Callable[[list[tuple[int, CheckedLine | PreparedLine]]], None],
    rows: RowContext | None = None,
) -> Problems:
    """Check every line; `write` gets the valid lines in batches until a problem is found.
    `rows`: the dataset had no samples, so valid lines come as PreparedLine rows. A large
    file is parsed and checked by worker processes (annotator.importers.parallel) while this
    process writes; the outcome is the same either way."""
    setup = LineSetup(shown, ctx, rows)
    problems = Problems(shown)
    first_line_of: dict[str, int] = {}
    batch: list[tuple[int, CheckedLine | PreparedLine]] = []
    for number, outcome in checked_lines(
        path, setup, root=root, max_line_bytes=max_line_bytes, max_pixels=max_pixels
    ):
        issues = _with_duplicate_id(outcome, number, first_line_of, shown)
        if issues:
            problems.add(issues)
        elif outcome.line is not None and not problems:
            batch.append((number, outcome.line))
            if len(batch) >= batch_size:
                write(batch)
                batch = []
    if not first_line_of and not problems:
        problems.add([ImportIssue(shown, 0, "file", "contains no samples")])
    if batch and not problems:
        write(batch)
    return problems


def checked_lines(
    path: Path, setup: LineSetup, *, root: Path, max_line_bytes: int, max_pixels: int
) -> Iterator[tuple[int, LineOutcome]]:
    """(line number, outcome) for every line but blank ones, in file order."""
    workers = worker_count(path)
    if workers:
        yield from check_in_workers(
            path, setup, root=root, max_line_bytes=max_line_bytes, max_pixels=max_pixels,
            workers=workers,
        )  # fmt: skip
        return
    images = ImageCache(root, max_pixels=max_pixels)
    for number, value, hints in read_hinted_lines(path, max_line_bytes=max_line_bytes):
        yield number, check_value(value, hints, number=number, setup=setup, images=images)


def _with_duplicate_id(
    outcome: LineOutcome, number: int, first_line_of: dict[str, int], shown: str
) -> list[ImportIssue]:
    """The line's problems, with a duplicate id put where the line's checks would have put it."""
    if not outcome.external_id:
        return outcome.issues
    first = first_line_of.setdefault(outcome.external_id, number)
    if first == number:
        return outcome.issues
    message = f"duplicate id {outcome.external_id!r} (first on line {first})"
    at = outcome.id_at
    return [*outcome.issues[:at], ImportIssue(shown, number, "id", message), *outcome.issues[at:]]
