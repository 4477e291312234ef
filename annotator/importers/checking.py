"""One pass over an import file: each line parsed and checked once, valid lines handed on in
batches as they come, every problem collected (at most MAX_SHOWN_ISSUES kept, then a count).

The caller writes the batches inside its transaction and stops writing at the first problem
(the rest of the file is still checked, so one run lists every problem); a file with any
problem raises ImportFailed there and the transaction rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from annotator.importers.fields import check_box_inside
from annotator.importers.images import ImageCache, ImageInfo, ImageProblem
from annotator.importers.issues import ImportIssue, LineReport
from annotator.importers.jsonl import BadLine, LineHints, read_hinted_lines
from annotator.importers.masks import ImportedMask, check_masks
from annotator.importers.records import ParseContext, ParsedRecord, parse_record
from annotator.importers.writer import CheckedLine

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
    write: Callable[[list[tuple[int, CheckedLine]]], None],
) -> Problems:
    """Check every line; `write` gets the valid lines in batches until a problem is found."""
    problems = Problems(shown)
    first_line_of: dict[str, int] = {}
    images = ImageCache(root, max_pixels=max_pixels)
    batch: list[tuple[int, CheckedLine]] = []
    for number, value, hints in read_hinted_lines(path, max_line_bytes=max_line_bytes):
        report = LineReport(path=shown, line=number)
        line = _check_line(value, hints, ctx=ctx, report=report, images=images, ids=first_line_of)
        if report.issues:
            problems.add(report.issues)
        elif line is not None and not problems:
            batch.append((number, line))
            if len(batch) >= batch_size:
                write(batch)
                batch = []
    if not first_line_of and not problems:
        problems.add([ImportIssue(shown, 0, "file", "contains no samples")])
    if batch and not problems:
        write(batch)
    return problems


def _check_line(
    value: object | BadLine,
    hints: LineHints,
    *,
    ctx: ParseContext,
    report: LineReport,
    images: ImageCache,
    ids: dict[str, int],
) -> CheckedLine | None:
    """The line's record and what its files tell; its problems go to `report`."""
    if isinstance(value, BadLine):
        report.error(value.field, value.message)
        return None
    record = parse_record(value, ctx=ctx, report=report, hints=hints)
    if record is None:
        return None
    _check_unique_id(record, ids, report)
    image = _check_image(record, report=report, images=images)
    if image is None:
        return CheckedLine(record, _NO_IMAGE)  # its problem is reported; never written
    return CheckedLine(record, image, _check_masks(record, image, images.root, report))


_NO_IMAGE = ImageInfo(0, 0, "")


def _check_unique_id(
    record: ParsedRecord, first_line_of: dict[str, int], report: LineReport
) -> None:
    if not record.external_id:
        return
    first = first_line_of.setdefault(record.external_id, report.line)
    if first != report.line:
        report.error("id", f"duplicate id {record.external_id!r} (first on line {first})")


def _check_image(
    record: ParsedRecord, *, report: LineReport, images: ImageCache
) -> ImageInfo | None:
    """The image's facts (read once per distinct path); boxes checked against its size."""
    if not record.image_path:
        return None
    try:
        image = images.probe(record.image_path)
    except ImageProblem as exc:
        report.error("image_path", f"{record.image_path!r} {exc}")
        return None
    for item in record.boxes:
        check_box_inside(item, width=image.width, height=image.height, report=report)
    return image


def _check_masks(
    record: ParsedRecord, image: ImageInfo, root: Path, report: LineReport
) -> tuple[tuple[str, ImportedMask], ...]:
    """(model, mask) for each of the record's masks that fits the image."""
    return tuple(
        (proposal.model_name, mask)
        for proposal in record.proposals
        for mask in check_masks(proposal.masks, image=image, root=root, report=report)
    )
