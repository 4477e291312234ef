"""python manage.py import_samples PATH --dataset NAME [--images-root DIR] [--model NAME]
[--override-human-decisions]"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.services import importing
from annotator.services.importing import ImportFailed, choose_images_root, import_samples_file


class _BelowWarnings(logging.Filter):
    """Drops the import service's INFO lines: the command prints the summary itself, so the
    console showed it twice ("imported ..." on stderr, "Imported ..." on stdout)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@contextmanager
def _service_summary_muted() -> Iterator[None]:
    logger, quiet = logging.getLogger(importing.__name__), _BelowWarnings()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


class Command(BaseCommand):
    help = (
        "Import samples from a JSON Lines file (format: docs/formats.md). Every problem is "
        "listed with its line and field, and then nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the .jsonl file, one sample per line")
        parser.add_argument("--dataset", required=True, help="dataset name (created if new)")
        parser.add_argument(
            "--images-root",
            type=Path,
            default=None,
            help="directory image_path values are relative to; must be inside IMPORT_ROOTS "
            "(default: the one the dataset stored at its last import)",
        )
        parser.add_argument(
            "--model",
            default="emoverse",
            help="model name for plain EmoVerse records (default: emoverse)",
        )
        parser.add_argument(
            "--override-human-decisions",
            action="store_true",
            help="let the file's critic drop samples an admin restored or people gave a final "
            "label (default: those are kept and listed; both are recorded in the audit log)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        dataset: str = options["dataset"]
        try:
            with _service_summary_muted():
                root = choose_images_root(
                    dataset_name=dataset, given=options["images_root"], display_name=path.name
                )
                report = import_samples_file(
                    path=path,
                    dataset_name=dataset,
                    images_root=root,
                    default_model=options["model"],
                    override_human_decisions=options["override_human_decisions"],
                )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Imported {path.name} into {dataset}: {report}")
