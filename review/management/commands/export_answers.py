"""`manage.py export_answers`: write every human answer and vote of a dataset, one row each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review.management.commands._export_args import dataset_and_out
from review.services.export_answers import ANSWER_FORMATS, export_answers_to_path


class Command(BaseCommand):
    help = (
        "Export every human answer, binary vote, blind first answer and adjudication of a "
        "dataset, one row each (docs/formats.md, 'Answers export'). The file at --out is "
        "replaced atomically; the export reads one snapshot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--format", required=True, choices=ANSWER_FORMATS, dest="fmt")
        parser.add_argument("--out", required=True, type=Path, help="file to write")
        parser.add_argument(
            "--no-formula-guard",
            action="store_true",
            help="CSV: write text cells starting with = + - @ tab or CR as they are (by default "
            "they get a leading ' so spreadsheets don't run them as formulas)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dataset, out = dataset_and_out(options)
        try:
            rows = export_answers_to_path(
                dataset=dataset,
                fmt=options["fmt"],
                path=out,
                formula_guard=not options["no_formula_guard"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"answers export of {dataset.name} to {out} failed: {exc}") from exc
        self.stdout.write(f"Wrote {rows} answers of {dataset.name} to {out} ({options['fmt']})")
