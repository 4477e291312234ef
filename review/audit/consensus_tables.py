"""Tables and heat maps of the audit's consensus section, from a ConsensusAudit."""

from __future__ import annotations

from review.audit.charts import Chart, Mark, add_grid_labels, shade
from review.audit.tables import Cell, Table, count, share, text
from review.selectors.audit_latent import ConsensusAudit, RaterReliability

RATERS = "consensus-raters"
CONFUSION = "consensus-confusion"
WEIGHTS = "consensus-weights"
SLUGS = (RATERS, CONFUSION, WEIGHTS)
KIND_NAMES = {"model": "VLM", "classifier": "classifier", "critic": "critic", "person": "person"}


def _interval(rater: RaterReliability) -> Cell:
    if rater.low is None or rater.high is None:
        return Cell(None, "—", numeric=True)
    return Cell(
        f"{rater.low:.3f}-{rater.high:.3f}", f"{rater.low:.0%} to {rater.high:.0%}", numeric=True
    )


def raters_table(audit: ConsensusAudit) -> Table:
    table = Table(
        RATERS,
        "Rater reliability: accuracy against the consensus, with its interval",
        ["rater", "kind", "ratings", "accuracy", "interval"],
    )
    for rater in audit.raters:
        table.rows.append(
            [
                text(rater.name),
                text(KIND_NAMES.get(rater.kind, rater.kind)),
                count(rater.n),
                share(rater.accuracy),
                _interval(rater),
            ]
        )
    table.note = (
        "Accuracy: how often the rater's answer is the label the latent-class model believes "
        "true, weighted by that belief; the interval is its uncertainty (few ratings, wide)."
    )
    return table


def confusion_table(audit: ConsensusAudit) -> Table:
    """Every rater's fitted confusion in long form (the CSV of the heat maps)."""
    table = Table(CONFUSION, "Rater confusion: P(says | truth)", ["rater", "truth", "says", "p"])
    for rater in audit.raters:
        for i, row in enumerate(rater.confusion):
            for j, p in enumerate(row):
                if i < len(audit.labels) and j < len(audit.labels):
                    cells = [text(rater.name), text(audit.labels[i]), text(audit.labels[j])]
                    table.rows.append([*cells, Cell(p, f"{p:.3f}", numeric=True)])
    return table


def weights_table(audit: ConsensusAudit) -> Table:
    table = Table(
        WEIGHTS, "Model weights: configured and learned", ["model", "configured", "learned"]
    )
    for row in audit.weights:
        learned = "—" if row.learned is None else f"{row.learned:g}"
        table.rows.append(
            [
                text(row.model),
                Cell(row.configured, f"{row.configured:g}", numeric=True),
                Cell(row.learned, learned, numeric=True),
            ]
        )
    table.note = (
        "Learned: the log-odds of each model's fitted accuracy, scaled so their mean is 1 "
        "(the weight a weighted vote should give it). Models not listed weigh 1."
    )
    return table


def consensus_tables(audit: ConsensusAudit) -> dict[str, Table]:
    """The section's tables; none before the first finished fit."""
    if audit.fit is None:
        return {}
    return {
        RATERS: raters_table(audit),
        WEIGHTS: weights_table(audit),
        CONFUSION: confusion_table(audit),
    }


def consensus_table(slug: str, audit: ConsensusAudit) -> Table | None:
    return consensus_tables(audit).get(slug)


def probability_heatmap(*, title: str, labels: list[str], matrix: list[list[float]]) -> Chart:
    """Rows: the truth; columns: what the rater says; shade and text by probability."""
    k = len(labels)
    cell = max(12.0, min(30.0, 240.0 / max(k, 1)))
    left, top = 100.0, 90.0
    # The last column's rotated label reaches past the grid: room on the right for it.
    chart = Chart(title=title, width=left + cell * k + 50, height=top + cell * k + 28)
    for i, row in enumerate(matrix[:k]):
        for j, p in enumerate(row[:k]):
            x, y = left + j * cell, top + i * cell
            chart.marks.append(
                Mark(
                    x=x, y=y, width=cell - 1, height=cell - 1,
                    fill=shade(p) if p >= 0.005 else "#f7f8fa",
                    title=f"truth {labels[i]}, says {labels[j]}: {p:.0%}",
                    href="",
                    text=f"{p * 100:.0f}" if p >= 0.005 and cell >= 24 else "",
                    text_x=x + (cell - 1) / 2, text_y=y + cell / 2 + 4, dark=p > 0.55,
                )
            )  # fmt: skip
    legend = "rows: truth, columns: says (%)"
    add_grid_labels(chart, labels=labels, left=left, top=top, cell=cell, legend=legend)
    return chart


def confusion_charts(audit: ConsensusAudit) -> list[Chart]:
    """A small heat map per rater with a confusion matrix."""
    return [
        probability_heatmap(
            title=f"{rater.name} ({KIND_NAMES.get(rater.kind, rater.kind)})",
            labels=audit.labels,
            matrix=rater.confusion,
        )
        for rater in audit.raters
        if rater.confusion
    ]
