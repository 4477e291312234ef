"""Bounds on what people type, shared by the forms, the API, the services and the importers."""

from __future__ import annotations

# Notes are a remark on one sample, not an essay: longer text made pages thousands of screens
# tall. The form shows a counter; every way in (form, draft, API, import) refuses more.
NOTES_MAX_LENGTH = 2000

# The confidence input's step: what the form accepts and what a prefill is rounded to.
CONFIDENCE_STEP = 0.5


def round_to_step(value: float, *, step: float = CONFIDENCE_STEP) -> float:
    """The nearest multiple of `step` (a tie goes to the even multiple): 7.3 -> 7.5."""
    return round(value / step) * step
