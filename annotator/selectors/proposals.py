"""Reads about the models' proposals."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from annotator.models import Proposal


def classifier_model_names(*, proposals: QuerySet[Proposal]) -> set[str]:
    """The models among `proposals` that are classifiers: a classifier gives a label (maybe a
    distribution over the labels) and never a description of the image, a VLM describes it.
    EmoViT's labels in an EmoVerse file come without a distribution, so the description
    decides too."""
    rows = proposals.values("model_name").annotate(
        described=Count("pk", filter=~Q(description="")),
        distributed=Count("pk", filter=~Q(distribution={})),
    )
    return {r["model_name"] for r in rows if r["distributed"] or not r["described"]}
