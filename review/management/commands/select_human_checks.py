"""`manage.py select_human_checks`: send a stable share of agreed samples to people too."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.management.options import dataset_option
from review.services.sampling import DEFAULT_SEED, select_human_checks


class Command(BaseCommand):
    help = (
        "Flag a share of a dataset's agreed samples for a human check (EmoVerse's manual random "
        "sampling). The choice is a seeded hash of each sample id: the same seed and share pick "
        "the same samples on every run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument(
            "--share",
            type=float,
            default=None,
            help="share of agreed samples, 0..1 (default: the dataset's agreed_review_share, "
            "else HUMAN_CHECK_SHARE)",
        )
        parser.add_argument("--seed", default=DEFAULT_SEED, help=f"default {DEFAULT_SEED!r}")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = dataset_option(options["dataset"])
        try:
            report = select_human_checks(
                dataset=dataset, share=options["share"], seed=options["seed"]
            )
        except ValidationError as exc:
            raise CommandError(f"--share: {'; '.join(exc.messages)}") from exc
        self.stdout.write(str(report))
