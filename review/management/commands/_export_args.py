"""What export_labels and export_answers both check before they write: the dataset by name
and a writable --out file (a leading underscore: Django does not list this as a command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from annotator.models import Dataset
from review.selectors.export import dataset_by_name, dataset_names


def dataset_and_out(options: dict[str, Any]) -> tuple[Dataset, Path]:
    """The --dataset and --out an export command was given, or CommandError naming the option."""
    dataset = dataset_by_name(name=options["dataset"])
    if dataset is None:
        known = ", ".join(dataset_names())
        raise CommandError(
            f"--dataset: no dataset named {options['dataset']!r} (known: {known or 'none'})"
        )
    out: Path = options["out"]
    if not out.parent.is_dir():
        raise CommandError(f"--out: directory {out.parent} does not exist")
    if out.is_dir():
        raise CommandError(f"--out: {out} is a directory; name a file")
    return dataset, out
