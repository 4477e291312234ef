"""Import samples from a JSON Lines file (the format: docs/formats.md).

Two streamed passes over the file. The first validates every line and opens every image, and
reports every problem at once; only when there are none does the second re-read the lines and
write them in batches inside one transaction. Between the passes only each line's image facts
(size, hash) are kept, never the records, so memory stays small for a 219K-line EmoVerse file.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_slug
from django.db import DataError, transaction

from annotator.importers.decisions import DecisionConflict, record_conflicts
from annotator.importers.fields import check_box_inside
from annotator.importers.images import (
    ImageInfo,
    ImageProblem,
    check_images_root,
    locate_image,
    probe_image,
)
from annotator.importers.issues import ImportIssue, LineReport
from annotator.importers.jsonl import BadLine, read_json_lines
from annotator.importers.masks import ImportedMask, check_masks
from annotator.importers.records import (
    MODEL_MAX,
    ParseContext,
    ParsedRecord,
    max_length,
    parse_record,
)
from annotator.importers.storable import printable
from annotator.importers.summary import describe_decisions, record_import
from annotator.importers.writer import CheckedLine, WriteCounts, write_batch
from annotator.models import Dataset, Taxonomy
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS

__all__ = [
    "ImportFailed",
    "ImportIssue",
    "ImportReport",
    "choose_images_root",
    "import_samples_file",
    "import_uploaded_samples",
]

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # samples per bulk write; keeps every IN (...) under SQLite's 999 parameters
MAX_SHOWN_ISSUES = 200  # a wrong file would otherwise list every one of its lines
DATASET_NAME_MAX = max_length(Dataset, "name")


class ImportFailed(Exception):
    """The file (or the options) had problems; nothing was written."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__(issues)

    def __str__(self) -> str:
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''}; nothing was imported:"
        return "\n".join([head, *(str(issue) for issue in self.issues)])


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    agreed: int
    disputed: int
    pending: int
    dropped: int
    # People's decisions the file contradicts: kept, or overridden (--override-human-decisions).
    conflicts: tuple[DecisionConflict, ...] = ()
    overridden: bool = False

    def __str__(self) -> str:
        return self.summary()

    def summary(self, *, how_to_override: str = "") -> str:
        """One line; `how_to_override` replaces the command's flag in the hint (for a page)."""
        text = (
            f"{self.created} created, {self.updated} updated; agreed {self.agreed}, "
            f"disputed {self.disputed}, pending {self.pending}, dropped {self.dropped}"
        )
        return text + describe_decisions(
            self.conflicts, overridden=self.overridden, how_to_override=how_to_override
        )


def import_samples_file(
    *,
    path: Path,
    dataset_name: str,
    images_root: Path,
    default_model: str = "emoverse",
    display_name: str | None = None,
    override_human_decisions: bool = False,
    actor: Any = None,
) -> ImportReport:
    """Validate the whole file, then create or update its samples; raises ImportFailed.

    A person's decision the file contradicts (a restore, a final label) is kept and reported,
    unless `override_human_decisions`; both are recorded in the audit log as `actor`'s.
    """
    shown = printable(display_name or path.name)
    _raise_if_any(_option_issues(shown, path, dataset_name, images_root, default_model))
    root = images_root.expanduser().resolve()
    ctx = _parse_context(dataset_name, default_model)
    stamp = _stamp(path)
    images = _validate(path=path, shown=shown, root=root, ctx=ctx)
    with transaction.atomic():
        dataset = _dataset_for_import(dataset_name, root)
        counts = _write(
            path=path,
            root=root,
            shown=shown,
            dataset=dataset,
            ctx=ctx,
            images=images,
            override=override_human_decisions,
        )
        if _stamp(path) != stamp:
            raise ImportFailed([ImportIssue(shown, 0, "file", "changed while it was imported")])
        report = _report(counts, overridden=override_human_decisions)
        _audit(report, counts=counts, shown=shown, dataset=dataset, actor=actor)
    logger.info("imported %s into %s: %s", shown, dataset_name, report)
    return report


def _audit(
    report: ImportReport, *, counts: WriteCounts, shown: str, dataset: Dataset, actor: Any
) -> None:
    """The decisions met, one event per sample; then the import's own event."""
    record_conflicts(
        conflicts=report.conflicts,
        statuses_after=counts.conflict_statuses,
        overridden=report.overridden,
        shown=shown,
        actor=actor,
    )
    record_import(shown=shown, dataset=dataset.name, report=report, actor=actor)


def _report(counts: WriteCounts, *, overridden: bool) -> ImportReport:
    return ImportReport(
        created=counts.created,
        updated=counts.updated,
        **{
            status: counts.statuses[status]
            for status in ("agreed", "disputed", "pending", "dropped")
        },
        conflicts=tuple(counts.conflicts),
        overridden=overridden,
    )


def choose_images_root(*, dataset_name: str, given: str | Path | None, display_name: str) -> Path:
    """The images root given, else the one the dataset stored at its last import."""
    if given is not None and str(given).strip():
        return Path(str(given).strip())
    stored = Dataset.objects.filter(name=dataset_name).values_list("images_root", flat=True).first()
    if stored:
        return Path(stored)
    message = f"not given, and dataset {dataset_name!r} has no stored images root to reuse"
    raise ImportFailed([ImportIssue(display_name, 0, "images_root", message)])


def import_uploaded_samples(
    *,
    upload: UploadedFile,
    dataset_name: str,
    images_root: str | None,
    default_model: str,
    override_human_decisions: bool = False,
    actor: Any = None,
) -> ImportReport:
    """Import an uploaded file: large uploads are already on disk, small ones are spooled."""
    name = printable(upload.name or "upload.jsonl")
    root = choose_images_root(dataset_name=dataset_name, given=images_root, display_name=name)

    def run(path: Path) -> ImportReport:
        return import_samples_file(
            path=path,
            dataset_name=dataset_name,
            images_root=root,
            default_model=default_model,
            display_name=name,
            override_human_decisions=override_human_decisions,
            actor=actor,
        )

    temporary_path = getattr(upload, "temporary_file_path", None)
    if temporary_path is not None:
        return run(Path(temporary_path()))
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as spooled:
        for chunk in upload.chunks():
            spooled.write(chunk)
        spooled.flush()
        return run(Path(spooled.name))


def _option_issues(
    shown: str, path: Path, dataset_name: str, images_root: Path, default_model: str
) -> list[ImportIssue]:
    issues = []
    if not path.is_file():
        issues.append(ImportIssue(shown, 0, "path", f"{str(path)!r} is not a file"))
    try:
        validate_slug(dataset_name)
        if len(dataset_name) > DATASET_NAME_MAX:
            raise ValidationError(f"is longer than {DATASET_NAME_MAX} characters")
    except ValidationError as exc:
        message = f"{dataset_name!r}: {' '.join(exc.messages)}"
        issues.append(ImportIssue(shown, 0, "dataset", message))
    if not default_model.strip() or len(default_model) > MODEL_MAX:
        message = f"{default_model!r} must be 1-{MODEL_MAX} characters"
        issues.append(ImportIssue(shown, 0, "model", message))
    problem = check_images_root(images_root, allowed=settings.IMPORT_ROOTS)
    if problem:
        issues.append(ImportIssue(shown, 0, "images_root", problem))
    return issues


def _raise_if_any(issues: list[ImportIssue]) -> None:
    if not issues:
        return
    if len(issues) > MAX_SHOWN_ISSUES:
        hidden = len(issues) - MAX_SHOWN_ISSUES
        last = issues[-1]
        issues = [
            *issues[:MAX_SHOWN_ISSUES],
            ImportIssue(last.path, 0, "file", f"and {hidden} more problems"),
        ]
    raise ImportFailed(issues)


def _parse_context(dataset_name: str, default_model: str) -> ParseContext:
    """Labels of the dataset's taxonomy; a new dataset will get Mikels 8."""
    dataset = Dataset.objects.filter(name=dataset_name).select_related("taxonomy").first()
    labels, taxonomy = (
        (dataset.taxonomy.labels, dataset.taxonomy.name)
        if dataset is not None
        else (list(MIKELS_8_LABELS), MIKELS_8)
    )
    return ParseContext(labels, taxonomy, default_model.strip(), settings.MAX_IMPORT_TEXT_CHARS)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _validate(*, path: Path, shown: str, root: Path, ctx: ParseContext) -> dict[int, ImageInfo]:
    """Every line's problems, all at once (ImportFailed); else each line's image facts."""
    issues: list[ImportIssue] = []
    images: dict[int, ImageInfo] = {}
    first_line_of: dict[str, int] = {}
    for number, value in read_json_lines(path, max_line_bytes=settings.MAX_IMPORT_LINE_BYTES):
        report = LineReport(path=shown, line=number)
        record = _parse_line(value, ctx=ctx, report=report)
        if record is not None:
            _check_unique_id(record, first_line_of, report)
            image = _check_image(record, root=root, report=report)
            if image is not None:
                images[number] = image
        issues.extend(report.issues)
    if not first_line_of and not issues:
        issues.append(ImportIssue(shown, 0, "file", "contains no samples"))
    _raise_if_any(issues)
    return images


def _parse_line(value: object, *, ctx: ParseContext, report: LineReport) -> ParsedRecord | None:
    if isinstance(value, BadLine):
        report.error(value.field, value.message)
        return None
    return parse_record(value, ctx=ctx, report=report)


def _check_unique_id(
    record: ParsedRecord, first_line_of: dict[str, int], report: LineReport
) -> None:
    if not record.external_id:
        return
    first = first_line_of.setdefault(record.external_id, report.line)
    if first != report.line:
        report.error("id", f"duplicate id {record.external_id!r} (first on line {first})")


def _check_image(record: ParsedRecord, *, root: Path, report: LineReport) -> ImageInfo | None:
    """The image's facts when it and everything placed on it (boxes, masks) are fine."""
    if not record.image_path:
        return None
    try:
        image = probe_image(
            locate_image(root, record.image_path), max_pixels=settings.MAX_IMAGE_PIXELS
        )
    except ImageProblem as exc:
        report.error("image_path", f"{record.image_path!r} {exc}")
        return None
    for item in record.boxes:
        check_box_inside(item, width=image.width, height=image.height, report=report)
    _check_masks(record, image=image, root=root, report=report)
    return image


def _check_masks(
    record: ParsedRecord, *, image: ImageInfo, root: Path, report: LineReport
) -> tuple[tuple[str, ImportedMask], ...]:
    """(model, mask) for each of the record's masks that fits the image."""
    return tuple(
        (proposal.model_name, mask)
        for proposal in record.proposals
        for mask in check_masks(proposal.masks, image=image, root=root, report=report)
    )


def _dataset_for_import(name: str, root: Path) -> Dataset:
    taxonomy, _ = Taxonomy.objects.get_or_create(
        name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)}
    )
    dataset, created = Dataset.objects.select_related("taxonomy").get_or_create(
        name=name, defaults={"taxonomy": taxonomy, "images_root": str(root)}
    )
    if not created and dataset.images_root != str(root):
        dataset.images_root = str(root)
        dataset.save(update_fields=["images_root"])
    return dataset


def _write(
    *,
    path: Path,
    root: Path,
    shown: str,
    dataset: Dataset,
    ctx: ParseContext,
    images: dict[int, ImageInfo],
    override: bool,
) -> WriteCounts:
    """The second pass: the same lines again, now known to be valid, written in batches."""
    counts = WriteCounts()
    batch: list[tuple[int, CheckedLine]] = []
    for number, value in read_json_lines(path, max_line_bytes=settings.MAX_IMPORT_LINE_BYTES):
        report = LineReport(path=shown, line=number)
        record = _parse_line(value, ctx=ctx, report=report)
        if record is None or report.issues or number not in images:
            # Only possible if the file changed between the passes; roll everything back.
            raise ImportFailed(
                [ImportIssue(shown, number, "file", "changed while it was imported")]
            )
        image = images.pop(number)
        masks = _check_masks(record, image=image, root=root, report=report)
        if report.issues:  # a mask file changed between the passes
            raise ImportFailed(
                [ImportIssue(shown, number, "file", "changed while it was imported")]
            )
        batch.append((number, CheckedLine(record, image, masks)))
        if len(batch) >= BATCH_SIZE:
            _write_batch(
                dataset=dataset, batch=batch, counts=counts, shown=shown, override=override
            )
            batch = []
    if batch:
        _write_batch(dataset=dataset, batch=batch, counts=counts, shown=shown, override=override)
    return counts


def _write_batch(
    *,
    dataset: Dataset,
    batch: list[tuple[int, CheckedLine]],
    counts: WriteCounts,
    shown: str,
    override: bool,
) -> None:
    """A value the database refuses despite the checks is still a listed problem, not a 500:
    the whole import rolls back (the caller's transaction) and the lines are named."""
    rows = [line for _, line in batch]
    try:
        write_batch(dataset=dataset, rows=rows, counts=counts, override_decisions=override)
    except (DataError, UnicodeError) as exc:
        where = f"lines {batch[0][0]}-{batch[-1][0]}"
        message = f"{where}: the database refused a value: {printable(str(exc)).strip()}"
        raise ImportFailed([ImportIssue(shown, 0, "file", message)]) from exc
