"""`manage.py export_labels`: write a dataset's labels in one of the export formats, with the
label map and the datasheet beside the file (review.services.export_beside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review.management.commands._export_args import dataset_and_out
from review.selectors.export import SCOPE_ALL, SCOPE_DECIDED, SCOPES
from review.services.export import export_to_path
from review.services.export_beside import write_beside_files
from review.services.export_formats import FORMAT_PARQUET, FORMATS, ExportOptions
from review.services.export_posterior import LABEL_FROM, LABEL_FROM_DECIDED


class Command(BaseCommand):
    help = (
        "Export a dataset's labels. --scope decided (default): adjudicated and agreed samples; "
        "--scope all: every sample with its status. The file at --out is replaced atomically. "
        "The export reads one snapshot, even while a re-import runs. Beside the file: "
        "FILE.labels.json (label map), FILE.datasheet.md (datasheet) and, for labelstudio, "
        "FILE.labelconfig.xml (labeling config), each written atomically too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--format", required=True, choices=list(FORMATS), dest="fmt")
        parser.add_argument("--out", required=True, type=Path, help="file to write")
        parser.add_argument("--scope", choices=SCOPES, default=SCOPE_DECIDED)
        parser.add_argument(
            "--no-formula-guard",
            action="store_true",
            help="CSV: write text cells starting with = + - @ tab or CR as they are (by default "
            "they get a leading ' so spreadsheets don't run them as formulas)",
        )
        parser.add_argument(
            "--embed-images",
            action="store_true",
            help="Parquet: an `image` column with each image file's bytes (Hugging Face "
            "datasets' Image feature); the file grows by the size of the images",
        )

        parser.add_argument(
            "--label-from",
            choices=LABEL_FROM,
            default=LABEL_FROM_DECIDED,
            help="consensus: with --scope all, a disputed or pending sample gets the latent-class "
            "model's most probable label (decided_by consensus_model, label_source consensus)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dataset, out = dataset_and_out(options)
        if options["embed_images"] and options["fmt"] != FORMAT_PARQUET:
            raise CommandError("--embed-images: only with --format parquet")
        if options["label_from"] != LABEL_FROM_DECIDED and options["scope"] != SCOPE_ALL:
            raise CommandError(
                "--label-from consensus: only with --scope all (it labels undecided samples)"
            )
        export_options = ExportOptions(
            formula_guard=not options["no_formula_guard"],
            embed_images=options["embed_images"],
            label_from=options["label_from"],
        )
        try:
            rows = export_to_path(
                dataset=dataset,
                scope=options["scope"],
                fmt=options["fmt"],
                path=out,
                options=export_options,
            )
            beside = write_beside_files(
                dataset=dataset, scope=options["scope"], fmt=options["fmt"], path=out
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"export of {dataset.name} to {out} failed: {exc}") from exc
        self.stdout.write(
            f"Wrote {rows} rows ({options['scope']}) of {dataset.name} to {out} ({options['fmt']})"
        )
        for item in beside:
            self.stdout.write(f"Wrote {item.path} ({item.what})")
        self.stdout.write("Each file was written to a temporary file first, then renamed.")
