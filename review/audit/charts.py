"""Server-side SVG charts for the audit: geometry here, markup in templates/review/_audit_*.html.

Heat maps (a confusion matrix per model pair), reliability diagrams (calibration per model) and
horizontal bars (rates). Every mark carries a title (the number, for tooltips and screen
readers) and a link to the samples behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LOW = (238, 241, 250)  # near the page background
HIGH = (44, 60, 176)  # --accent-strong
BAR_ROW = 22
LABEL_WIDTH = 170


def shade(share: float) -> str:
    """A colour from LOW (0) to HIGH (1)."""
    share = min(max(share, 0.0), 1.0)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(LOW, HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str
    href: str
    text: str = ""
    text_x: float = 0.0
    text_y: float = 0.0
    dark: bool = False  # white text on a dark fill
    anchor: str = "middle"  # of the text


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str
    anchor: str = "end"
    rotate: bool = False


@dataclass
class Chart:
    title: str
    width: float
    height: float
    marks: list[Mark] = field(default_factory=list)
    labels: list[AxisLabel] = field(default_factory=list)
    lines: list[tuple[float, float, float, float]] = field(default_factory=list)
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, title
    note: str = ""  # set: nothing to draw, the page says why instead of an empty frame


def unrated(title: str, note: str) -> Chart:
    """A chart with nothing to draw: its title and why (not a blank grid or axis)."""
    return Chart(title=title, width=0, height=0, note=note)


def heatmap(
    *,
    title: str,
    row_name: str,
    column_name: str,
    labels: Sequence[str],
    counts: Sequence[Sequence[int]],
    href: Callable[[int, int], str],
) -> Chart:
    """Rows: `row_name`'s label; columns: `column_name`'s; cell shade by count."""
    k = len(labels)
    cell = max(14.0, min(40.0, 360.0 / max(k, 1)))
    left, top = 110.0, 100.0
    chart = Chart(title=title, width=left + cell * k + 10, height=top + cell * k + 30)
    peak = max((max(row) for row in counts if row), default=0) or 1
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            share = n / peak
            x, y = left + j * cell, top + i * cell
            chart.marks.append(
                Mark(
                    x=x,
                    y=y,
                    width=cell - 1,
                    height=cell - 1,
                    fill=shade(share) if n else "#f7f8fa",
                    title=f"{row_name} {labels[i]}, {column_name} {labels[j]}: {n}",
                    href=href(i, j) if n else "",
                    text=str(n) if n and cell >= 24 else "",
                    text_x=x + (cell - 1) / 2,
                    text_y=y + cell / 2 + 4,
                    dark=share > 0.55,
                )
            )
    legend = f"rows: {row_name}, columns: {column_name}"
    add_grid_labels(chart, labels=labels, left=left, top=top, cell=cell, legend=legend)
    return chart


def add_grid_labels(
    chart: Chart, *, labels: Sequence[str], left: float, top: float, cell: float, legend: str
) -> None:
    """A square grid's labels: each row's at its left, each column's rotated above it, and
    the legend under the grid."""
    for i, label in enumerate(labels):
        chart.labels.append(AxisLabel(x=left - 6, y=top + i * cell + cell / 2 + 4, text=label))
        chart.labels.append(
            AxisLabel(
                x=left + i * cell + cell / 2, y=top - 6, text=label, anchor="start", rotate=True
            )
        )
    below = top + cell * len(labels) + 20
    chart.labels.append(AxisLabel(x=left, y=below, text=legend, anchor="start"))


def reliability(
    *, title: str, bins: Sequence[dict[str, float | int | None]], href: Callable[[int], str]
) -> Chart:
    """Accuracy per confidence bin as bars, mean confidence as points, the diagonal = perfect."""
    size, left, top = 220.0, 40.0, 12.0
    chart = Chart(title=title, width=left + size + 12, height=top + size + 36)
    chart.lines.append((left, top + size, left + size, top))  # perfect calibration
    chart.lines.append((left, top + size, left + size, top + size))
    chart.lines.append((left, top, left, top + size))
    width = size / max(len(bins), 1)
    for i, b in enumerate(bins):
        x = left + i * width
        accuracy, mean, count = b["accuracy"], b["mean_confidence"], int(b["count"] or 0)
        if accuracy is None or mean is None:
            continue
        height = float(accuracy) * size
        lower, upper = float(b["bin_lower"] or 0), float(b["bin_upper"] or 0)
        chart.marks.append(
            Mark(
                x=x + 1,
                y=top + size - height,
                width=width - 2,
                height=max(height, 0.5),
                fill=shade(0.55),
                title=f"confidence {lower:.1f}-{upper:.1f}: accuracy {float(accuracy):.0%} "
                f"of {count}, mean confidence {float(mean):.2f}",
                href=href(i),
            )
        )
        chart.points.append(
            (left + float(mean) * size, top + size - float(mean) * size, f"mean {float(mean):.2f}")
        )
    for tick in (0.0, 0.5, 1.0):
        chart.labels.append(AxisLabel(x=left - 4, y=top + size - tick * size + 4, text=f"{tick:g}"))
        chart.labels.append(
            AxisLabel(x=left + tick * size, y=top + size + 14, text=f"{tick:g}", anchor="middle")
        )
    chart.labels.append(
        AxisLabel(x=left + size / 2, y=top + size + 30, text="confidence", anchor="middle")
    )
    return chart


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # 0-1
    title: str
    href: str = ""


def bars(*, title: str, items: Sequence[Bar], scale_width: float = 300.0) -> Chart:
    """One horizontal bar per item, 0-1 wide; items without a value get an empty row."""
    chart = Chart(
        title=title, width=LABEL_WIDTH + scale_width + 60, height=BAR_ROW * len(items) + 8
    )
    for i, item in enumerate(items):
        y = 4 + i * BAR_ROW
        chart.labels.append(AxisLabel(x=LABEL_WIDTH - 6, y=y + 14, text=item.label))
        if item.value is None:
            continue
        chart.marks.append(
            Mark(
                x=LABEL_WIDTH,
                y=y + 2,
                width=max(item.value * scale_width, 1.0),
                height=BAR_ROW - 6,
                fill=shade(0.35 + 0.6 * item.value),
                title=item.title,
                href=item.href,
                text=f"{item.value:.0%}",
                text_x=LABEL_WIDTH + max(item.value * scale_width, 1.0) + 4,
                text_y=y + 15,
                anchor="start",
            )
        )
    return chart


def dashboard_charts(fig: dict[str, Any], link: Callable[..., str]) -> dict[str, list[Chart]]:
    """Every chart of the dashboard, by section; links go to the drill-down list."""
    labels = fig["labels"]
    charts: dict[str, list[Chart]] = {
        "confusion": [_pair_heatmap(p, labels, link) for p in fig["models"]["pairs"]],
        "reliability": [_reliability(row, link) for row in fig["calibration"]],
    }
    rates = [
        ("disputes", "Dispute rate per emotion", fig["disputes"]["by_label"], "label"),
        ("sources", "Dispute rate per source", fig["disputes"]["by_source"], "source"),
    ]
    for name, title, rows, key in rates:
        items = [
            Bar(
                label=row[key],
                value=row["rate"],
                title=f"{row[key]}: {row['hits']} of {row['n']} disputed",
                href=link("disputes", **{key: row[key]}),
            )
            for row in rows
            if row["n"]
        ]
        charts[name] = [bars(title=title, items=items)] if items else []
    charts["annotators"] = _annotator_bars(fig, link)
    charts["judges"] = _judge_bars(fig, link)
    return charts


def _pair_heatmap(pair: dict[str, Any], labels: list[str], link: Callable[..., str]) -> Chart:
    a, b = pair["a"], pair["b"]
    title = f"{a} (rows) vs {b} (columns)"
    if not pair["n"]:
        return unrated(title, f"No samples rated by both {a} and {b}.")
    return heatmap(
        title=title,
        row_name=a,
        column_name=b,
        labels=labels,
        counts=pair["confusion"],
        href=_cell_link(link, a, b, labels),
    )


def _reliability(row: dict[str, Any], link: Callable[..., str]) -> Chart:
    model = row["model"]
    if row["ece"] is None:
        note = "No sample has both this model's confidence and a final human label yet."
        return unrated(f"{model}: no final labels yet", note)
    return reliability(
        title=f"{model}: ECE {row['ece']:.3f}", bins=row["bins"], href=_bin_link(link, model)
    )


ANNOTATORS_TITLE = "Agreement with the consensus, per annotator"


def _annotator_bars(fig: dict[str, Any], link: Callable[..., str]) -> list[Chart]:
    if fig["annotators"] and not any(row["consensus"]["n"] for row in fig["annotators"]):
        # Each sample answered by one person (overlap k = 1): no one else to agree with.
        note = "No sample has answers from two or more people yet: no consensus to compare with."
        return [unrated(ANNOTATORS_TITLE, note)]
    items = [
        Bar(
            label=row["annotator"],
            value=row["consensus"]["rate"],
            title=f"{row['annotator']}: agrees with the others' consensus on "
            f"{row['consensus']['hits']} of {row['consensus']['n']}",
            href=link("annotator", annotator=row["annotator"], against="consensus", miss="1"),
        )
        for row in fig["annotators"]
    ]
    return [bars(title=ANNOTATORS_TITLE, items=items)] if items else []


def _judge_bars(fig: dict[str, Any], link: Callable[..., str]) -> list[Chart]:
    items = [
        Bar(
            label=row["model"],
            value=row["rate"],
            title=f"{row['model']}: agrees with the final label on {row['hits']} of {row['n']}",
            href=link("judge", model=row["model"], miss="1"),
        )
        for row in fig["models_vs_final"]
        if row["n"]
    ]
    return [bars(title="Agreement with the final human label", items=items)] if items else []


def _cell_link(
    link: Callable[..., str], a: str, b: str, labels: list[str]
) -> Callable[[int, int], str]:
    def href(i: int, j: int) -> str:
        return link("pair", a=a, b=b, x=labels[i], y=labels[j])

    return href


def _bin_link(link: Callable[..., str], model: str) -> Callable[[int], str]:
    def href(i: int) -> str:
        return link("calibration", model=model, bin=str(i))

    return href
