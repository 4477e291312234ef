"""One line of an import file checked: parsed, its image and masks looked at, and its rows
prepared when every sample is new. Pure but for reading image and mask files, so it runs in a
worker process as well (annotator.importers.parallel); the duplicate-id check, which needs the
lines before, is the caller's (annotator.importers.checking).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from annotator.importers.fields import check_box_inside
from annotator.importers.images import ImageCache, ImageInfo, ImageProblem
from annotator.importers.issues import ImportIssue, LineReport
from annotator.importers.jsonl import BadLine, LineHints
from annotator.importers.masks import ImportedMask, check_masks
from annotator.importers.records import ParseContext, ParsedRecord, parse_record
from annotator.importers.rows import PreparedLine, RowContext, prepare_line


class LineSetup(NamedTuple):
    """What checking a line needs besides the line; plain values, so it travels to workers."""

    shown: str  # the file's name in messages
    ctx: ParseContext
    rows: RowContext | None  # every sample is new: lines become PreparedLine rows


class CheckedLine(NamedTuple):
    """A valid line with what its files told: the image's facts, the masks (per model)."""

    record: ParsedRecord
    image: ImageInfo
    masks: tuple[tuple[str, ImportedMask], ...] = ()


class LineOutcome(NamedTuple):
    """One line checked, but for the duplicate-id check, which needs the lines before it."""

    issues: list[ImportIssue]
    id_at: int  # where in `issues` a duplicate-id problem belongs
    external_id: str  # "" when the line has none to check
    line: CheckedLine | PreparedLine | None  # None: the line has a problem (or none to write)


def check_value(
    value: object | BadLine,
    hints: LineHints,
    *,
    number: int,
    setup: LineSetup,
    images: ImageCache,
) -> LineOutcome:
    """The line's record and what its files tell, or its problems."""
    report = LineReport(path=setup.shown, line=number)
    if isinstance(value, BadLine):
        report.error(value.field, value.message)
        return LineOutcome(report.issues, 0, "", None)
    record = parse_record(value, ctx=setup.ctx, report=report, hints=hints)
    if record is None:
        return LineOutcome(report.issues, 0, "", None)
    id_at = len(report.issues)
    image = _check_image(record, report=report, images=images)
    if image is None:  # its problem is reported
        return LineOutcome(report.issues, id_at, record.external_id, None)
    masks = _check_masks(record, image, images.root, report)
    line: CheckedLine | PreparedLine | None = None
    if report.issues:
        return LineOutcome(report.issues, id_at, record.external_id, None)
    if setup.rows is not None:
        line = prepare_line(record=record, image=image, masks=masks, rows=setup.rows)
    else:
        line = CheckedLine(record, image, masks)
    return LineOutcome(report.issues, id_at, record.external_id, line)


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
