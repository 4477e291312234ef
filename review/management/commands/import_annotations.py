"""python manage.py import_annotations PATH --format {long,emonet-binary} --dataset NAME
[--create-samples] [--taxonomy NAME] [--override-human-decisions]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review.services.annotation_import import (
    FORMAT_LONG,
    FORMATS,
    ImportFailed,
    import_annotations_file,
)


class Command(BaseCommand):
    help = (
        "Import people's answers from a CSV file (formats: docs/formats.md, 'Human "
        "annotations'). Every problem is listed with its line and field, and then nothing is "
        "written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the .csv file")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=FORMAT_LONG,
            help="long: sample_id,annotator,value[,confidence]; "
            "emonet-binary: path,annotator,value,emotion (default: long)",
        )
        parser.add_argument("--dataset", required=True, help="the dataset the samples belong to")
        parser.add_argument(
            "--create-samples",
            action="store_true",
            help="emonet-binary only: create placeholder samples (and the dataset) for image "
            "ids it does not have yet",
        )
        parser.add_argument(
            "--taxonomy",
            default=None,
            help="taxonomy of a dataset this import creates (default: emonet-face-40 for "
            "emonet-binary); must match an existing dataset's",
        )
        parser.add_argument(
            "--override-human-decisions",
            action="store_true",
            help="replace imported answers that samples' final labels were decided from "
            "(default: those are kept and listed; both are recorded in the audit log)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            report = import_annotations_file(
                path=path,
                fmt=options["format"],
                dataset_name=options["dataset"],
                create_samples=options["create_samples"],
                taxonomy_name=options["taxonomy"],
                override_human_decisions=options["override_human_decisions"],
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Imported {path.name} into {options['dataset']}: {report}")
