"""`manage.py fit_consensus`: fit the latent-class consensus of a dataset now, in this process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.management.options import dataset_option
from review.models_consensus import ConsensusFit
from review.selectors.audit_latent import rater_reliability
from review.services.latent_jobs import fit_consensus_now


class Command(BaseCommand):
    help = (
        "Fit a latent-class model (Dawid-Skene, MACE or GLAD) over every rating of a dataset: "
        "models, classifier, critic and people (docs/consensus.md). Replaces the dataset's "
        "per-sample posteriors and prints each rater's fitted accuracy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument(
            "--method",
            choices=ConsensusFit.Method.values,
            default="",
            help="default: the dataset's consensus_method",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = dataset_option(options["dataset"])
        fit = fit_consensus_now(dataset=dataset, method=options["method"])
        if fit.status != ConsensusFit.Status.DONE:
            raise CommandError(f"fit {fit.pk} of {dataset.name} {fit.status}: {fit.error}")
        self.stdout.write(
            f"Fit {fit.pk} of {dataset.name} ({fit.get_method_display()}): {fit.n_samples} "
            f"samples, {fit.n_ratings} ratings, {len(fit.raters)} raters in {fit.seconds:.1f} s"
        )
        if fit.error:
            self.stdout.write(fit.error)
        self.stdout.write(f"{'rater':<40} {'kind':<10} {'n':>8}  accuracy (95% interval)")
        for row in rater_reliability(fit=fit):
            self.stdout.write(
                f"{row.name[:40]:<40} {row.kind:<10} {row.n:>8}  {row.accuracy or 0:.3f} "
                f"({row.low or 0:.3f}-{row.high or 1:.3f})"
            )
