"""The audit's figures for a sequential yes/no protocol (review.stats.protocol), from the same
arrays as every other figure: one unit per (sample, emotion) asked about."""

from __future__ import annotations

from typing import Any

from review.selectors.audit_data import AuditData
from review.stats.protocol import protocol_figures


def binary_protocol_figures(data: AuditData) -> dict[str, Any] | None:
    """None unless the people's ratings are yes/no votes."""
    if not data.binary:
        return None
    figures = protocol_figures(data.rating_unit, data.rating_value, n_units=len(data.unit_sample))
    return figures.as_json()
