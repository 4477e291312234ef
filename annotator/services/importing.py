"""Import samples from a JSON Lines file (the format: docs/formats.md).

One streamed pass inside one transaction (annotator.importers.checking): each line is parsed
and checked once, and valid lines are written in batches as they come (new samples by plain
inserts, annotator.importers.inserts). The first problem stops the writing but not the checking,
so every problem of the file is reported at once; then the transaction rolls back and nothing
is written. Only a batch of records, the ids seen and a bounded cache of image facts are held,
so memory stays flat for a 219K-line EmoVerse file. Afterwards the tables are ANALYZEd.
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
from django.utils import timezone

from annotator.importers.checking import MAX_SHOWN_ISSUES, check_file
from annotator.importers.decisions import DecisionConflict, record_conflicts
from annotator.importers.images import check_images_root
from annotator.importers.inserts import PreparedLine, row_context
from annotator.importers.issues import ImportIssue
from annotator.importers.lines import CheckedLine
from annotator.importers.records import MODEL_MAX, ParseContext, max_length
from annotator.importers.statistics import plan_with_values, refresh_statistics
from annotator.importers.storable import printable
from annotator.importers.summary import describe_decisions, record_import
from annotator.importers.writer import WriteCounts, write_batch
from annotator.models import Dataset, Taxonomy
from annotator.selectors.datasets import dataset_by_name
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
    with transaction.atomic():
        plan_with_values()
        dataset = _dataset_for_import(dataset_name, root)
        counts = _check_and_write(
            path=path,
            root=root,
            shown=shown,
            dataset=dataset,
            ctx=ctx,
            override=override_human_decisions,
        )
        if _stamp(path) != stamp:
            raise ImportFailed([ImportIssue(shown, 0, "file", "changed while it was imported")])
        report = _report(counts, overridden=override_human_decisions)
        _audit(report, counts=counts, shown=shown, dataset=dataset, actor=actor)
    refresh_statistics()
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
    dataset = dataset_by_name(name=dataset_name)
    labels, taxonomy = (
        (dataset.taxonomy.labels, dataset.taxonomy.name)
        if dataset is not None
        else (list(MIKELS_8_LABELS), MIKELS_8)
    )
    return ParseContext(labels, taxonomy, default_model.strip(), settings.MAX_IMPORT_TEXT_CHARS)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


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


def _check_and_write(
    *, path: Path, root: Path, shown: str, dataset: Dataset, ctx: ParseContext, override: bool
) -> WriteCounts:
    """One pass: valid lines are written in batches as they come; any problem raises
    ImportFailed once the whole file is checked, and the caller's transaction rolls back."""
    counts = WriteCounts()
    all_new = not dataset.samples.exists()

    def write(batch: list[tuple[int, CheckedLine | PreparedLine]]) -> None:
        _write_batch(
            dataset=dataset,
            batch=batch,
            counts=counts,
            shown=shown,
            override=override,
            all_new=all_new,
        )

    problems = check_file(
        path=path,
        shown=shown,
        root=root,
        ctx=ctx,
        max_line_bytes=settings.MAX_IMPORT_LINE_BYTES,
        max_pixels=settings.MAX_IMAGE_PIXELS,
        batch_size=BATCH_SIZE,
        write=write,
        rows=row_context(dataset=dataset, now=timezone.now()) if all_new else None,
    )
    if problems:
        raise ImportFailed(problems.as_list())
    return counts


def _write_batch(
    *,
    dataset: Dataset,
    batch: list[tuple[int, CheckedLine | PreparedLine]],
    counts: WriteCounts,
    shown: str,
    override: bool,
    all_new: bool,
) -> None:
    """A value the database refuses despite the checks is still a listed problem, not a 500:
    the whole import rolls back (the caller's transaction) and the lines are named."""
    rows = [line for _, line in batch]
    try:
        write_batch(
            dataset=dataset, rows=rows, counts=counts, override_decisions=override, all_new=all_new
        )
    except (DataError, UnicodeError) as exc:
        where = f"lines {batch[0][0]}-{batch[-1][0]}"
        message = f"{where}: the database refused a value: {printable(str(exc)).strip()}"
        raise ImportFailed([ImportIssue(shown, 0, "file", message)]) from exc
