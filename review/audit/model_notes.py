"""What the Models table says under its figures: which models Fleiss' kappa is over, over how
many samples, and why a model is left out of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ALONE_NOTE = (
    "A model that labelled no sample another model labelled has no agreement to measure; its "
    "pairs draw no heat map. “emoverse” is the name an import gives the proposal of a plain "
    "EmoVerse record (one without a list of proposals) unless told another."
)


def _listed(names: Sequence[str]) -> str:
    """a; a and b; a, b and c."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def kappa_models(models: Mapping[str, Any]) -> list[str]:
    """The models Fleiss' kappa is over (figures cached before they were named: every model)."""
    return list(models.get("fleiss_models", models["models"]))


def kappa_note(models: Mapping[str, Any], *, alone: Sequence[str]) -> str:
    """Over which samples and models the kappa is, and a line per model left out saying why."""
    used = kappa_models(models)
    if len(used) < 2:
        return "No sample has labels from two or more models: no Fleiss' kappa."
    samples = models["fleiss_items"]
    noun = "sample" if samples == 1 else "samples"
    lines = [f"Fleiss' kappa is over the {samples:,} {noun} that {_listed(used)} all labelled."]
    for name in models["models"]:
        if name in alone:
            lines.append(f"{name} left out: it labelled no sample the others did.")
        elif name not in used:
            lines.append(f"{name} left out: it labelled none of the samples those all labelled.")
    return " ".join(lines)
