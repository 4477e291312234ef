"""The audit's tables, built from the figures: one cell per number, with the number's raw
value (for CSV), its display text, and a link to the samples behind it (the drill-down)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from review.audit.model_notes import ALONE_NOTE, kappa_models, kappa_note

Link = Callable[..., str]  # link(figure, **params) -> URL of the drill-down list
RateLinks = Callable[[str], tuple[str, str, str]]
Figures = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    value: Any  # what the CSV holds
    text: str  # what the page shows
    href: str = ""
    numeric: bool = False


@dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""
    empty: str = "Nothing to show here yet."  # what the page says when there are no rows

    @property
    def headers(self) -> list[tuple[str, bool]]:
        """(title, numeric) per column: a numeric column's header sits right, over its numbers."""
        numeric = [
            any(i < len(row) and row[i].numeric for row in self.rows)
            for i in range(len(self.columns))
        ]
        numeric[:1] = [False] * len(numeric[:1])  # the row headers' column
        return list(zip(self.columns, numeric, strict=True))


def text(value: Any) -> Cell:
    return Cell(value, "—" if value in (None, "") else str(value))


def count(value: int | None, href: str = "") -> Cell:
    if value is None:
        return Cell(None, "—", numeric=True)
    return Cell(value, f"{value:,}", href if value else "", numeric=True)


def share(value: float | None, href: str = "") -> Cell:
    if value is None:
        return Cell(None, "—", numeric=True)
    return Cell(value, f"{value:.1%}", href, numeric=True)


def coefficient(value: float | None, href: str = "") -> Cell:
    """A kappa, an alpha or an ECE: three decimals."""
    if value is None:
        return Cell(None, "—", numeric=True)
    return Cell(value, f"{value:.3f}", href, numeric=True)


def hours(value: float | None) -> Cell:
    return Cell(value, "—" if value is None else f"{value:.2f}", numeric=True)


def duration(hours_: float | None) -> Cell:
    """A span of time as people say it ("42 s", "7 min", "3 h 05 min"); the value stays hours."""
    if hours_ is None:
        return Cell(None, "—", numeric=True)
    seconds = round(hours_ * 3600)
    if seconds < 60:
        shown = f"{seconds} s"
    elif seconds < 3600:
        shown = f"{seconds // 60} min"
    else:
        shown = f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return Cell(hours_, shown, numeric=True)


# A rate per hour from seconds of work is noise (3 quick answers "made" 973 an hour).
MIN_RATE_HOURS = 10 / 60


def _model_overview(fig: Figures, link: Link) -> Table:
    m, groups = fig["models"], fig["model_groups"]
    table = Table("models", "Models: agreement across all models", ["figure", "value"])
    table.rows = [
        [text("models compared"), text(", ".join(groups["compared"]))],
        [text("models sharing no sample with another"), text(", ".join(groups["alone"]))],
        [text("samples with a model label"), count(m["items"], link("models"))],
        [text("pairwise agreement"), share(m["pairwise_agreement"], link("disputes", all="1"))],
        [text("unanimous share (2+ labels)"), share(m["unanimous_share"], link("disputes"))],
        [text("Fleiss' kappa: models"), text(", ".join(kappa_models(m)))],
        [text("Fleiss' kappa: samples all of them labelled"), count(m["fleiss_items"])],
        [text("Fleiss' kappa"), coefficient(m["fleiss_kappa"])],
        [text("Krippendorff's alpha (nominal)"), coefficient(m["krippendorff_alpha"]["nominal"])],
    ]
    table.note = kappa_note(m, alone=groups["alone"])
    if groups["alone"]:
        table.note += " " + ALONE_NOTE
    return table


def _model_pairs(fig: Figures, link: Link) -> Table:
    table = Table(
        "model-pairs",
        "Models: each pair",
        ["model a", "model b", "samples both labelled", "agreement", "Cohen's kappa"],
    )
    for p in fig["models"]["pairs"]:
        a, b = p["a"], p["b"]
        table.rows.append(
            [
                text(a),
                text(b),
                count(p["n"], link("pair", a=a, b=b)),
                share(p["agreement"], link("pair", a=a, b=b, disagree="1")),
                coefficient(p["cohen_kappa"]),
            ]
        )
    return table


def _confusion(fig: Figures, link: Link) -> Table:
    labels = fig["labels"]
    table = Table(
        "confusion",
        "Models: confusion of each pair (non-zero cells)",
        ["model a", "model b", "a said", "b said", "samples"],
    )
    for p in fig["models"]["pairs"]:
        for i, row in enumerate(p["confusion"]):
            for j, n in enumerate(row):
                if n:
                    href = link("pair", a=p["a"], b=p["b"], x=labels[i], y=labels[j])
                    cells = [text(p["a"]), text(p["b"]), text(labels[i]), text(labels[j])]
                    table.rows.append([*cells, count(n, href)])
    return table


def _rate_table(table: Table, rows: list[dict[str, Any]], key: str, links: RateLinks) -> Table:
    """A table of (name, hits, compared, rate) rows; `links(name)`: the hits', the compared
    ones' and the rate's drill-downs."""
    for row in rows:
        name = row[key]
        on_hits, on_n, on_rate = links(name)
        hits, n = count(row["hits"], on_hits), count(row["n"], on_n)
        table.rows.append([text(name), hits, n, share(row["rate"], on_rate)])
    return table


DISPUTE_COLUMNS = ["disputed", "samples with 2+ model labels", "dispute rate"]


def _dispute_links(link: Link, key: str) -> RateLinks:
    def links(name: str) -> tuple[str, str, str]:
        disputed = link("disputes", **{key: name})
        return disputed, link("disputes", **{key: name}, all="1"), disputed

    return links


def _disputes_by_emotion(fig: Figures, link: Link) -> Table:
    title = "Disputes per emotion (samples where any model said it)"
    table = Table("disputes-by-emotion", title, ["emotion", *DISPUTE_COLUMNS])
    return _rate_table(table, fig["disputes"]["by_label"], "label", _dispute_links(link, "label"))


def _disputes_by_source(fig: Figures, link: Link) -> Table:
    table = Table("disputes-by-source", "Disputes per source", ["source", *DISPUTE_COLUMNS])
    links = _dispute_links(link, "source")
    return _rate_table(table, fig["disputes"]["by_source"], "source", links)


def _summary_rows(summary: dict[str, Any], link: Link, prefix: str = "") -> list[list[Cell]]:
    alpha = summary["krippendorff_alpha"]
    return [
        [text(f"{prefix}units rated"), count(summary["items"], link("human"))],
        [text(f"{prefix}pairs of ratings in a unit"), count(summary["pairs"])],
        [text(f"{prefix}pairwise agreement"), share(summary["pairwise_agreement"])],
        [
            text(f"{prefix}unanimous share (2+ ratings)"),
            share(summary["unanimous_share"], link("human", split="1")),
        ],
        *[[text(f"{prefix}Krippendorff's alpha ({lv})"), coefficient(alpha[lv])] for lv in alpha],
        [text(f"{prefix}Fleiss' kappa"), coefficient(summary["fleiss_kappa"])],
    ]


def _people(fig: Figures, link: Link) -> Table:
    unit = "(sample, emotion) yes/no units" if fig["binary"] else "samples"
    table = Table("people", f"People: agreement over {unit}", ["figure", "value"])
    if not fig["human"]["pairs"]:
        # One answer per unit (overlap k = 1, say): every agreement figure would be blank.
        rated = fig["human"]["items"]
        table.empty = (
            f"{rated:,} {unit} rated, none by two or more people: no agreement yet."
            if rated
            else f"No {unit} rated by people yet."
        )
        return table
    table.rows = _summary_rows(fig["human"], link)
    if fig.get("human_confidence"):
        table.rows += _summary_rows(fig["human_confidence"], lambda *a, **k: "", "confidence: ")
    table.note = "Fleiss' kappa applies only when every unit has the same number of ratings."
    return table


def _annotators(fig: Figures, link: Link) -> Table:
    table = Table(
        "annotators",
        "People: each annotator against the others' consensus and against gold",
        [
            "annotator",
            "ratings",
            "agrees with consensus",
            "compared",
            "rate",
            "agrees with gold",
            "compared with gold",
            "gold rate",
        ],
    )
    for row in fig["annotators"]:
        name, consensus, gold = row["annotator"], row["consensus"], row["gold"]

        def drill(against: str, miss: str = "", name: str = name) -> str:
            return link(
                "annotator", annotator=name, against=against, **({"miss": miss} if miss else {})
            )

        table.rows.append(
            [
                text(name),
                count(row["ratings"], link("annotator", annotator=name)),
                count(consensus["hits"]),
                count(consensus["n"], drill("consensus")),
                share(consensus["rate"], drill("consensus", "1")),
                count(gold["hits"]),
                count(gold["n"], drill("gold")),
                share(gold["rate"], drill("gold", "1")),
            ]
        )
    return table


def _binary_emotions(fig: Figures, link: Link) -> Table | None:
    if not fig.get("binary_by_emotion"):
        return None
    table = Table(
        "binary-emotions",
        "People: yes/no votes per emotion",
        [
            "emotion",
            "units",
            "votes",
            "yes share",
            "pairs",
            "pairwise agreement",
            "unanimous share",
            "Krippendorff's alpha",
        ],
    )
    for row in fig["binary_by_emotion"]:
        emotion = row["emotion"]
        table.rows.append(
            [
                text(emotion),
                count(row["units"], link("human", emotion=emotion)),
                count(row["votes"]),
                share(row["yes_share"]),
                count(row["pairs"]),
                share(row["pairwise_agreement"]),
                share(row["unanimous_share"], link("human", emotion=emotion, split="1")),
                coefficient(row["krippendorff_alpha"]),
            ]
        )
    return table


def _models_vs_final(fig: Figures, link: Link) -> Table:
    def links(model: str) -> tuple[str, str, str]:
        return "", link("judge", model=model), link("judge", model=model, miss="1")

    table = Table(
        "models-vs-final",
        "Models and critic against the final human label",
        ["model", "agrees", "compared", "agreement"],
    )
    return _rate_table(table, fig["models_vs_final"], "model", links)


def _critic_overturns(fig: Figures, link: Link) -> Table:
    def links(verdict: str) -> tuple[str, str, str]:
        overturned = link("critic", verdict=verdict, overturned="1")
        return overturned, link("critic", verdict=verdict), overturned

    table = Table(
        "critic-overturns",
        "How often people overturn each critic verdict",
        ["verdict", "overturned", "reviewed by people", "overturn rate"],
    )
    table.note = "Overturned: the final label differs from the critic's, or it said drop."
    return _rate_table(table, fig["critic_overturns"], "verdict", links)


def _calibration(fig: Figures, link: Link) -> Table:
    table = Table(
        "calibration",
        "Confidence calibration against the final label",
        ["model", "compared", "expected calibration error"],
    )
    for row in fig["calibration"]:
        table.rows.append([text(row["model"]), count(row["n"]), coefficient(row["ece"])])
    return table


def _calibration_bins(fig: Figures, link: Link) -> Table:
    table = Table(
        "calibration-bins",
        "Reliability diagrams: each model's confidence bins",
        ["model", "bin", "from", "to", "samples", "mean confidence", "accuracy"],
    )
    for row in fig["calibration"]:
        model = row["model"]
        for i, b in enumerate(row["bins"]):
            table.rows.append(
                [
                    text(model),
                    count(i),
                    coefficient(b["bin_lower"]),
                    coefficient(b["bin_upper"]),
                    count(b["count"], link("calibration", model=model, bin=str(i))),
                    coefficient(b["mean_confidence"]),
                    share(b["accuracy"], link("calibration", model=model, bin=str(i), wrong="1")),
                ]
            )
    return table


def _throughput(fig: Figures, link: Link) -> Table:
    table = Table(
        "throughput",
        "Throughput: decisions made in the app",
        [
            "person",
            "samples",
            "decisions",
            "timed",
            "active time",
            "decisions per hour",
            "median s per decision",
        ],
    )
    for row in fig["throughput"]:
        name = row["annotator"]
        table.rows.append(
            [
                text(name),
                count(row["samples"], link("decisions", annotator=name)),
                count(row["items"]),
                count(row["timed_items"]),
                duration(row["active_hours"]),
                hours(row["items_per_hour"] if row["active_hours"] >= MIN_RATE_HOURS else None),
                hours(row["median_seconds_per_item"]),
            ]
        )
    table.note = (
        "Samples: the samples the person decided on (the link lists them). Decisions: every "
        "answer, yes/no vote and label version, so a revised label counts again; a one-person "
        "answer that also became the final label counts once. Time per decision is what the "
        "browser recorded, else the gap since the person's previous decision (gaps over 10 "
        "minutes count as breaks). Decisions per hour from 10 minutes of timed work on. "
        "Imported answers are not counted."
    )
    return table


BUILDERS: dict[str, Callable[[Figures, Link], Table | None]] = {
    "models": _model_overview,
    "model-pairs": _model_pairs,
    "confusion": _confusion,
    "disputes-by-emotion": _disputes_by_emotion,
    "disputes-by-source": _disputes_by_source,
    "people": _people,
    "annotators": _annotators,
    "binary-emotions": _binary_emotions,
    "models-vs-final": _models_vs_final,
    "critic-overturns": _critic_overturns,
    "calibration": _calibration,
    "calibration-bins": _calibration_bins,
    "throughput": _throughput,
}


def audit_table(slug: str, *, figures: Figures, link: Link) -> Table | None:
    """The table `slug` (None when unknown or when it does not apply to this dataset)."""
    builder = BUILDERS.get(slug)
    return builder(figures, link) if builder else None


def audit_tables(*, figures: Figures, link: Link) -> dict[str, Table]:
    tables = {slug: builder(figures, link) for slug, builder in BUILDERS.items()}
    return {slug: table for slug, table in tables.items() if table is not None}
