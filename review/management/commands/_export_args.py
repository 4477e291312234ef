"""What export_labels and export_answers both check before they write: the dataset by name
and a writable --out file (a leading underscore: Django does not list this as a command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from annotator.management.options import dataset_option
from annotator.models import Dataset


def dataset_and_out(options: dict[str, Any]) -> tuple[Dataset, Path]:
    """The --dataset and --out an export command was given, or CommandError naming the option."""
    dataset = dataset_option(options["dataset"])
    out: Path = options["out"]
    if not out.parent.is_dir():
        raise CommandError(f"--out: directory {out.parent} does not exist")
    if out.is_dir():
        raise CommandError(f"--out: {out} is a directory; name a file")
    return dataset, out
