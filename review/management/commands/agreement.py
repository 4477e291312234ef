"""python manage.py agreement --dataset NAME [--source S] [--since DATE] [--until DATE] [--json]"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.management.options import dataset_option
from review.selectors.anchoring import anchoring
from review.selectors.audit import AuditFilters, audit_figures


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _number(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class Command(BaseCommand):
    help = (
        "Agreement figures of a dataset, as the audit dashboard shows them: models (pairwise "
        "confusion, Cohen's and Fleiss' kappa, alpha), people (pairwise agreement, unanimity, "
        "alpha, Fleiss), models against people, calibration and throughput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--source", default="", help="only samples from this source")
        parser.add_argument("--since", type=_date, default=None, help="from this date (YYYY-MM-DD)")
        parser.add_argument("--until", type=_date, default=None, help="to this date, inclusive")
        parser.add_argument("--json", action="store_true", help="print every figure as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = AuditFilters(
            dataset=dataset_option(options["dataset"]),
            source=options["source"],
            since=options["since"],
            until=options["until"],
        )
        figures = audit_figures(filters=filters)
        if options["json"]:
            # Blind first answers against final ones (machine-blind datasets; else zeros).
            figures = {**figures, "anchoring": anchoring(filters=filters).as_json()}
            self.stdout.write(json.dumps(figures, indent=2, allow_nan=False))
            return
        self._summary(figures)

    def _summary(self, figures: dict[str, Any]) -> None:
        human, models = figures["human"], figures["models"]
        unit = "(sample, emotion) yes/no units" if figures["binary"] else "samples"
        self.stdout.write(f"{figures['dataset']}: {figures['samples']} samples")
        self.stdout.write(f"People, over {unit}:")
        for key in ("items", "pairs", "pairwise_agreement", "unanimous_share", "fleiss_kappa"):
            self.stdout.write(f"  {key}: {_number(human[key])}")
        for level, value in human["krippendorff_alpha"].items():
            self.stdout.write(f"  krippendorff_alpha {level}: {_number(value)}")
        self.stdout.write(f"Models ({', '.join(models['models']) or 'none'}):")
        for key in ("items", "pairwise_agreement", "fleiss_kappa"):
            self.stdout.write(f"  {key}: {_number(models[key])}")
        self.stdout.write(
            f"  krippendorff_alpha nominal: {_number(models['krippendorff_alpha']['nominal'])}"
        )
        for pair in models["pairs"]:
            self.stdout.write(
                f"  {pair['a']} vs {pair['b']}: n {pair['n']}, agreement "
                f"{_number(pair['agreement'])}, Cohen's kappa {_number(pair['cohen_kappa'])}"
            )
        for row in figures["models_vs_final"]:
            self.stdout.write(
                f"  {row['model']} vs final label: {_number(row['rate'])} of {row['n']}"
            )
