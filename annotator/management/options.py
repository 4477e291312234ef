"""What commands of both apps share when they read their options."""

from __future__ import annotations

from django.core.management.base import CommandError

from annotator.models import Dataset
from annotator.selectors.datasets import dataset_by_name, unknown_dataset_message


def dataset_option(name: str) -> Dataset:
    """The dataset --dataset names, or a CommandError naming the known ones."""
    dataset = dataset_by_name(name=name)
    if dataset is None:
        raise CommandError(f"--dataset: {unknown_dataset_message(name=name)}")
    return dataset
