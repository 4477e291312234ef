"""Import people's answers made elsewhere: a CSV of labels or numbers (`long`) or EmoNet-Face
Binary's yes/no votes (`emonet-binary`). Format and rules: docs/formats.md, "Human annotations".

The whole file is read and checked first, and every problem is reported with its line
(ImportFailed, as import_samples); only a clean file is written, in one transaction. Annotators
the file names become inactive users without a usable password when they do not exist, so every
answer stays attributable. Answers already imported for the same (sample[, emotion], person) are
replaced; an answer someone gave in the app is never overwritten (that line is an error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DataError, transaction

from annotator.importers.issues import ImportIssue, LineReport
from annotator.importers.storable import printable
from annotator.models import Dataset, Taxonomy
from annotator.selectors.datasets import dataset_by_name
from annotator.services.importing import ImportFailed
from annotator.services.taxonomies import EMONET_FACE_40, LabelResolver
from annotator.taxonomy import MIKELS_8
from review.importers.annotation_rows import (
    COLUMNS,
    FORMAT_EMONET_BINARY,
    FORMAT_LONG,
    FORMATS,
    AnswerRow,
    RowParser,
)
from review.importers.csvfile import CsvProblem, read_rows
from review.models import Annotation, AuditEvent
from review.services.annotation_writer import (
    Key,
    changed_decided_answers,
    create_users,
    existing_answers,
    find_users,
    record_decided_answers,
    sample_ids,
    write_answers,
    write_placeholder_samples,
)

__all__ = [
    "FORMATS",
    "FORMAT_EMONET_BINARY",
    "FORMAT_LONG",
    "AnnotationImportReport",
    "ImportFailed",
    "import_annotations_file",
]

logger = logging.getLogger(__name__)

MAX_SHOWN_ISSUES = 200  # a wrong --dataset would otherwise list every line
IMPORT_ACTION = "import_annotations"
DEFAULT_TAXONOMY = {FORMAT_LONG: MIKELS_8, FORMAT_EMONET_BINARY: EMONET_FACE_40}


@dataclass(frozen=True)
class AnnotationImportReport:
    fmt: str
    rows: int
    created: int
    updated: int
    samples: int  # distinct samples the file answers
    samples_created: int  # placeholders (--create-samples)
    users_created: list[str] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # value -> label it was read as
    decided: list[str] = field(default_factory=list)  # samples with a final label the file
    decided_answers: int = 0  # changes answers of: kept (or replaced when overridden)
    overridden: bool = False

    def __str__(self) -> str:
        what = "votes" if self.fmt == FORMAT_EMONET_BINARY else "answers"
        text = (
            f"{self.rows} {what} on {self.samples} samples: {self.created} created, "
            f"{self.updated} replaced; {self.samples_created} placeholder samples created; "
            f"{len(self.users_created)} new inactive users"
        )
        if self.synonyms:
            text += "; read as synonyms: " + ", ".join(
                f"{value!r} -> {label!r}" for value, label in self.synonyms.items()
            )
        return text + self._decided_text()

    def _decided_text(self) -> str:
        if not self.decided_answers:
            return ""
        named = ", ".join(self.decided[:10]) + ("..." if len(self.decided) > 10 else "")
        answers = "answer" if self.decided_answers == 1 else "answers"
        where = (
            f"{self.decided_answers} imported {answers} on {len(self.decided)} samples with a "
            f"final label ({named})"
        )
        if self.overridden:
            return f"; replaced {where}"
        return f"; kept {where} (import again with --override-human-decisions to replace them)"


@dataclass
class _Plan:
    """What a clean file will write, worked out before the transaction."""

    dataset: Dataset | None
    taxonomy: Taxonomy
    rows: list[AnswerRow]  # the lines without a problem
    parser: RowParser
    issues: list[ImportIssue]  # the lines' problems, reported with the database checks


def import_annotations_file(
    *,
    path: Path,
    fmt: str,
    dataset_name: str,
    create_samples: bool = False,
    taxonomy_name: str | None = None,
    display_name: str | None = None,
    actor: Any = None,
    override_human_decisions: bool = False,
) -> AnnotationImportReport:
    """Check the whole file, then write its answers; raises ImportFailed listing every problem.

    An imported answer on a sample with a final label is what that decision was made from: a
    changed one is kept as it is (reported, and in the audit log) unless
    `override_human_decisions`.
    """
    shown = printable(display_name or path.name)
    plan = _plan(path, shown, fmt, dataset_name, create_samples, taxonomy_name)
    try:
        with transaction.atomic():
            report, dataset = _check_and_write(
                plan,
                shown=shown,
                dataset_name=dataset_name,
                create_samples=create_samples,
                override=override_human_decisions,
                actor=actor,
            )
    except (DataError, UnicodeError) as exc:  # despite the checks: still a listed problem
        message = f"the database refused a value: {printable(str(exc)).strip()}"
        raise ImportFailed([ImportIssue(shown, 0, "file", message)]) from exc
    logger.info("imported %s into %s: %s", shown, dataset.name, report)
    return report


def _check_and_write(
    plan: _Plan,
    *,
    shown: str,
    dataset_name: str,
    create_samples: bool,
    override: bool,
    actor: Any,
) -> tuple[AnnotationImportReport, Dataset]:
    fmt, keys = plan.parser.fmt, {row.sample for row in plan.rows}
    ids = sample_ids(dataset=plan.dataset, keys=keys) if plan.dataset else {}
    users = find_users(names={row.annotator for row in plan.rows})
    existing = existing_answers(fmt=fmt, dataset=plan.dataset, users=users)
    issues = plan.issues + _app_answer_issues(plan.rows, ids, users, existing, shown=shown)
    if not create_samples:
        issues += _missing_sample_issues(plan.rows, ids, shown=shown)
    _raise_if_any(sorted(issues, key=lambda issue: issue.line))
    decided = changed_decided_answers(
        fmt=fmt, dataset=plan.dataset, rows=plan.rows, ids=ids, users=users
    )
    dataset = plan.dataset or Dataset.objects.create(name=dataset_name, taxonomy=plan.taxonomy)
    created_samples = write_placeholder_samples(dataset=dataset, keys=keys - set(ids), into=ids)
    new_users = create_users(names={row.annotator for row in plan.rows}, into=users)
    rows = plan.rows if override else [row for row in plan.rows if row.line not in decided]
    created, updated = write_answers(fmt=fmt, rows=rows, ids=ids, users=users, existing=existing)
    report = AnnotationImportReport(
        fmt=fmt,
        rows=len(plan.rows),
        created=created,
        updated=updated,
        samples=len(keys),
        samples_created=created_samples,
        users_created=new_users,
        synonyms={value: label for value, label in plan.parser.synonyms},
        decided=sorted({change.sample for change in decided.values()}),
        decided_answers=len(decided),
        overridden=override,
    )
    record_decided_answers(
        changes=list(decided.values()), overridden=override, shown=shown, actor=actor
    )
    _record(actor=actor, shown=shown, dataset=dataset, report=report)
    return report, dataset


def _plan(
    path: Path,
    shown: str,
    fmt: str,
    dataset_name: str,
    create_samples: bool,
    taxonomy_name: str | None,
) -> _Plan:
    issues = _option_issues(path, shown, fmt, create_samples)
    dataset = dataset_by_name(name=dataset_name)
    taxonomy, more = _taxonomy(dataset, dataset_name, fmt, taxonomy_name, create_samples, shown)
    _raise_if_any(issues + more)
    assert taxonomy is not None  # no issue means a taxonomy was found
    parser = RowParser(fmt=fmt, resolver=LabelResolver(taxonomy))
    rows, problems = _parse(path, shown, parser)
    return _Plan(dataset=dataset, taxonomy=taxonomy, rows=rows, parser=parser, issues=problems)


def _option_issues(path: Path, shown: str, fmt: str, create_samples: bool) -> list[ImportIssue]:
    issues = []
    if fmt not in FORMATS:
        message = f"{fmt!r} is not one of {', '.join(FORMATS)}"
        issues.append(ImportIssue(shown, 0, "format", message))
    if create_samples and fmt != FORMAT_EMONET_BINARY:
        message = "placeholder samples are only made for emonet-binary (its images are not shipped)"
        issues.append(ImportIssue(shown, 0, "create_samples", message))
    if not path.is_file():
        issues.append(ImportIssue(shown, 0, "path", f"{str(path)!r} is not a file"))
    return issues


def _taxonomy(
    dataset: Dataset | None,
    dataset_name: str,
    fmt: str,
    wanted: str | None,
    create_samples: bool,
    shown: str,
) -> tuple[Taxonomy | None, list[ImportIssue]]:
    """The dataset's taxonomy; for a dataset this import creates, --taxonomy or the default."""
    if dataset is not None:
        if wanted and wanted != dataset.taxonomy.name:
            message = f"dataset {dataset_name!r} uses {dataset.taxonomy.name}, not {wanted}"
            return None, [ImportIssue(shown, 0, "taxonomy", message)]
        return dataset.taxonomy, []
    if not create_samples:
        message = f"no dataset {dataset_name!r}: import its samples first"
        if fmt == FORMAT_EMONET_BINARY:
            message += " (or pass --create-samples to create placeholders)"
        return None, [ImportIssue(shown, 0, "dataset", message)]
    name = wanted or DEFAULT_TAXONOMY.get(fmt, MIKELS_8)
    taxonomy = Taxonomy.objects.filter(name=name).first()
    if taxonomy is None:
        message = (
            f"no taxonomy {name!r}; load it first: manage.py load_taxonomy guide.json --name {name}"
        )
        return None, [ImportIssue(shown, 0, "taxonomy", message)]
    return taxonomy, []


def _parse(path: Path, shown: str, parser: RowParser) -> tuple[list[AnswerRow], list[ImportIssue]]:
    required, optional = COLUMNS[parser.fmt]
    issues: list[ImportIssue] = []
    rows: list[AnswerRow] = []
    first_line: dict[tuple[str, str, str], int] = {}
    try:
        records = read_rows(
            path,
            shown=shown,
            required=required,
            optional=optional,
            max_line_bytes=settings.MAX_IMPORT_LINE_BYTES,
        )
        for line, fields in records:
            if isinstance(fields, ImportIssue):
                issues.append(fields)
                continue
            report = LineReport(path=shown, line=line)
            row = parser.parse(fields, report)
            if row is not None:
                _check_duplicate(row, first_line, report)
            issues.extend(report.issues)
            if row is not None and not report.issues:
                rows.append(row)
    except CsvProblem as exc:  # reading stops there; what was found before is listed too
        raise ImportFailed(issues + exc.issues) from exc
    if not rows and not issues:
        issues.append(ImportIssue(shown, 0, "file", "contains no rows"))
    return rows, issues


def _check_duplicate(
    row: AnswerRow, first_line: dict[tuple[str, str, str], int], report: LineReport
) -> None:
    key = (row.sample, row.emotion if row.vote is not None else "", row.annotator)
    first = first_line.setdefault(key, row.line)
    if first != row.line:
        what = f"{row.sample!r}/{row.emotion!r}" if row.vote is not None else repr(row.sample)
        report.error("annotator", f"{row.annotator!r} answers {what} again (first on line {first})")


def _missing_sample_issues(
    rows: list[AnswerRow], ids: dict[str, int], *, shown: str
) -> list[ImportIssue]:
    return [
        ImportIssue(
            shown,
            row.line,
            "path" if row.vote is not None else "sample_id",
            f"no sample {row.sample!r} in the dataset",
        )
        for row in rows
        if row.sample not in ids
    ]


def _app_answer_issues(
    rows: list[AnswerRow],
    ids: dict[str, int],
    users: dict[str, int],
    existing: dict[Key, str],
    *,
    shown: str,
) -> list[ImportIssue]:
    """An answer given in the app is never replaced by an imported one."""
    issues = []
    for row in rows:
        if row.sample not in ids or row.annotator not in users:
            continue
        emotion = row.emotion if row.vote is not None else ""
        if existing.get((ids[row.sample], emotion, users[row.annotator])) == Annotation.Source.APP:
            message = f"{row.annotator!r} already answered {row.sample!r} in the app"
            issues.append(ImportIssue(shown, row.line, "annotator", message))
    return issues


def _raise_if_any(issues: list[ImportIssue]) -> None:
    if not issues:
        return
    if len(issues) > MAX_SHOWN_ISSUES:
        hidden = len(issues) - MAX_SHOWN_ISSUES
        last = issues[-1]
        issues = issues[:MAX_SHOWN_ISSUES]
        issues.append(ImportIssue(last.path, 0, "file", f"and {hidden} more problems"))
    raise ImportFailed(issues)


def _record(*, actor: Any, shown: str, dataset: Dataset, report: AnnotationImportReport) -> None:
    """One audit event per import (not one per answer): what came in, from which file."""
    AuditEvent.objects.create(
        sample=None,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=IMPORT_ACTION,
        after={
            "file": shown,
            "dataset": dataset.name,
            "format": report.fmt,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "samples_created": report.samples_created,
            "users_created": report.users_created,
            "decided_answers_kept": 0 if report.overridden else report.decided_answers,
            "decided_answers_replaced": report.decided_answers if report.overridden else 0,
        },
    )
