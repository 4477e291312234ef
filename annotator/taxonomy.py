"""Built-in emotion taxonomies. Datasets store their own copy (see Taxonomy model)."""

from __future__ import annotations

MIKELS_8 = "mikels8"
# Positive then negative, as Mikels et al. (2005) order them; keys 1-8 in the UI follow this order.
MIKELS_8_LABELS = [
    "amusement",
    "awe",
    "contentment",
    "excitement",
    "anger",
    "disgust",
    "fear",
    "sadness",
]


def normalise_label(value: str, labels: list[str]) -> str | None:
    """The taxonomy's spelling of `value`, matched case-insensitively; None when unknown."""
    wanted = value.strip().casefold()
    for label in labels:
        if label.casefold() == wanted:
            return label
    return None
