"""The audit's anchoring table (review.selectors.anchoring): blind first answers against final
ones, on datasets reviewed blind to the machines."""

from __future__ import annotations

from typing import Any

from review.audit.tables import Cell, Table, text
from review.selectors.anchoring import Anchoring, AnchoringRow, anchoring
from review.selectors.audit_query import AuditFilters

ANCHORING = "anchoring"
COLUMNS = [
    "person",
    "answers",
    "final ≠ blind",
    "moved to the machines",
    "moved away from them",
    "blind = machines",
    "final = machines",
    "mean confidence change",
]
NOTE = (
    "Each person's first answer, given before the page showed the machines, against their "
    "final answer. “Machines”: the suggested emotion the page revealed."
)


def _counted(row: AnchoringRow, value: int) -> Cell:
    share = row.share(value)
    shown = f"{value:,}" if share is None else f"{value:,} ({share:.0%})"
    return Cell(value, shown, numeric=True)


def _signed(change: float | None) -> Cell:
    return Cell(change, "—" if change is None else f"{change:+.1f}", numeric=True)


def _row(row: AnchoringRow) -> list[Cell]:
    return [
        text(row.annotator or "everyone"),
        Cell(row.answers, f"{row.answers:,}", numeric=True),
        _counted(row, row.changed),
        _counted(row, row.toward_machines),
        _counted(row, row.away_from_machines),
        _counted(row, row.blind_as_machines),
        _counted(row, row.final_as_machines),
        _signed(row.confidence_change),
    ]


def anchoring_table(figures: Anchoring) -> Table:
    rows = [_row(figures.total), *(_row(p) for p in figures.people)] if figures.people else []
    return Table(
        ANCHORING, "Anchoring: blind first answers against final ones", COLUMNS, rows, NOTE
    )


def anchoring_section(*, filters: AuditFilters, url: str) -> dict[str, Any] | None:
    """The table for the dashboard (`url`: its CSV); None when the dataset is not blind and
    has no blind answers (nothing to measure, nothing to show)."""
    figures = anchoring(filters=filters)
    if not (filters.dataset.machine_blind or figures.people):
        return None
    return {"table": anchoring_table(figures), "url": url}
