"""The datasheet written beside every export: a Markdown page with what a dataset paper's
appendix states (docs/formats.md, "Datasheet"): counts by status, source and label, who
decided the labels, models and prompt versions, the critic's verdicts, people's answers,
agreement figures, licence and attribution, export date and format.

One selector read (review.selectors.datasheet: aggregate queries and the audit's cached
figures) and a string builder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from annotator.models import Dataset
from review.models_consensus import ConsensusFit
from review.selectors.datasheet import DatasheetFacts, datasheet_facts

METHOD_NAMES = dict(ConsensusFit.Method.choices)
# What the datasheet of an answers export says about its columns that their names do not.
ANSWER_COLUMN_NOTES = (
    "Rows are in time order: answered_at, then the row's id (kind breaks a tie of both).",
    "answered_at: when the row was first saved; a person's later change of their own answer "
    "does not move it.",
    "changed_at (the last column): when the row last changed, i.e. the time of the author's "
    "last change of their answer in the app; answered_at for every row never changed "
    "(votes, blind answers, adjudication versions, and imported answers: an import that "
    "replaces an answer keeps no time per answer).",
    "round: a sample's answers of one kind numbered in the order they were saved (votes per "
    "sample and emotion); an adjudication's version.",
)


# What the datasheet of a labels CSV says about its columns that their names do not.
CSV_COLUMN_NOTES = (
    "bbox: despite its name, every grounded B-A-S element as JSON, not only boxes: a list "
    'with one entry per boxed region ({"role", "phrase", "box": [x1, y1, x2, y2]}, plus '
    '"mask" as COCO RLE {"size": [h, w], "counts"} and "segmenter" when the region has a '
    'mask) and one per mask a person accepted ("box" around the mask, "mask", "segmenter", '
    '"score", "origin": "person"). The name stays for the scripts that read it.',
)


def _cell(value: object) -> str:
    """A value as a Markdown table cell: None as n/a, floats to 3 places, | and newlines
    escaped so a model name or source cannot break the table."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value) if value != "" else "(none)"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    if len(lines) == 2:
        lines.append("| " + " | ".join(["none"] + [""] * (len(header) - 1)) + " |")
    return [*lines, ""]


def _counted(title: str, counts: Mapping[str, int], *, total: int | None = None) -> list[str]:
    whole = total if total is not None else sum(counts.values())
    rows = [(k, n, f"{100 * n / whole:.1f} %" if whole else "n/a") for k, n in counts.items()]
    return _table([title, "samples", "share"], rows)


def _licence(dataset: Dataset) -> list[str]:
    return [
        "## Licence and attribution",
        "",
        f"- Licence: {dataset.licence or 'not stated (set it on the dataset in the admin)'}",
        f"- Attribution: {dataset.attribution or 'not stated'}",
        "",
    ]


def _samples(dataset: Dataset, facts: DatasheetFacts, labels: Sequence[str]) -> list[str]:
    label_rows = [
        (label, labels.index(label) if label in labels else None, n)
        for label, n in facts.label_counts.items()
    ]
    return [
        "## Samples",
        "",
        *_counted("status", facts.status_counts),
        f"In this export: {facts.in_scope} samples. By source:",
        "",
        *_counted("source", facts.source_counts, total=facts.in_scope),
        f"Final labels (taxonomy `{dataset.taxonomy.name}`, ids as in the label map):",
        "",
        *_table(["emotion", "id", "samples"], label_rows),
        "Who decided them:",
        "",
        *_counted("decided by", facts.decided_by),
    ]


def _machines(facts: DatasheetFacts) -> list[str]:
    return [
        "## Models and critic",
        "",
        *_table(["model", "prompt version", "proposals"], facts.models),
        *_table(["critic model", "prompt version", "verdicts"], facts.critic_models),
        "Each sample's latest critic verdict:",
        "",
        *_counted("verdict", facts.critic_verdicts),
    ]


def _people(facts: DatasheetFacts) -> list[str]:
    return [
        "## Human answers",
        "",
        *_table(["kind", "rows"], facts.answers.items()),
        f"People who answered, voted or decided a final label: {facts.annotators}.",
        "",
    ]


def _agreement(agreement: Mapping[str, Any]) -> list[str]:
    models = agreement.get("models") or {}
    human = agreement.get("human") or {}
    alpha = (human.get("krippendorff_alpha") or {}).get("nominal")
    model_alpha = (models.get("krippendorff_alpha") or {}).get("nominal")
    rows: list[Sequence[object]] = [
        ("models", models.get("items"), models.get("pairwise_agreement"),
         models.get("fleiss_kappa"), model_alpha),
        ("people", human.get("items"), human.get("pairwise_agreement"),
         human.get("fleiss_kappa"), alpha),
    ]  # fmt: skip
    pairs = [
        (f"{p['a']} / {p['b']}", p["n"], p["agreement"], p["cohen_kappa"])
        for p in models.get("pairs") or []
    ]
    return [
        "## Agreement",
        "",
        "Over the whole dataset, as the audit dashboard computes them (review.stats). "
        "Fleiss' kappa needs the same number of ratings per item: n/a otherwise."
        + (" People's figures are over yes/no votes (units: sample and emotion)."
           if agreement.get("binary") else ""),
        "",
        *_table(["raters", "items", "pairwise agreement", "Fleiss' kappa", "Krippendorff's alpha"],
                rows),
        *_table(["model pair", "items", "agreement", "Cohen's kappa"], pairs),
    ]  # fmt: skip


def _consensus(facts: DatasheetFacts) -> list[str]:
    """A line on the latent-class fit behind the soft labels (docs/consensus.md)."""
    fit = facts.consensus
    if fit is None:
        return [
            "## Soft labels",
            "",
            "No latent-class fit yet: the posterior columns are empty.",
            "",
        ]
    when = fit.finished_at.isoformat(timespec="seconds") if fit.finished_at else "n/a"
    return [
        "## Soft labels",
        "",
        f"Posteriors from a {METHOD_NAMES.get(fit.method, fit.method)} fit finished {when} "
        f"({fit.n_samples} samples, {fit.n_ratings} ratings); {fit.in_scope} samples of this "
        f"export have one, mean entropy {_cell(fit.mean_entropy)} bits.",
        "",
    ]


def _columns(*, fmt: str | None, answers: bool) -> list[str]:
    """What the columns' names do not say: the answers export's, or the labels CSV's."""
    notes = ANSWER_COLUMN_NOTES if answers else CSV_COLUMN_NOTES if fmt == "csv" else ()
    if not notes:
        return []
    return ["## Columns", "", *(f"- {note}" for note in notes), ""]


def datasheet_markdown(
    *,
    dataset: Dataset,
    scope: str,
    fmt: str | None = None,
    now: datetime | None = None,
    answer_rows: int | None = None,
) -> str:
    """The datasheet of an export of `dataset` (`scope`, written as `fmt`) as Markdown; with
    `answer_rows`, of an answers export holding that many rows (the samples described are
    then the whole dataset's)."""
    facts = datasheet_facts(dataset=dataset, scope=scope)
    stamp = (now or timezone.now()).isoformat(timespec="seconds")
    if answer_rows is None:
        made = f"Exported {stamp}" + (f" as {fmt}" if fmt else "") + f", scope {scope}."
    else:
        made = (
            f"Exported {stamp}: every human answer, vote and final-label decision, "
            f"{answer_rows} rows" + (f", as {fmt}" if fmt else "") + ". The samples below are "
            "the whole dataset's."
        )
    lines = [f"# Datasheet: {dataset.name}", "", made, ""]
    lines += _licence(dataset)
    lines += _samples(dataset, facts, list(dataset.taxonomy.labels))
    lines += _machines(facts) + _people(facts) + _agreement(facts.agreement)
    lines += _consensus(facts)
    lines += _columns(fmt=fmt, answers=answer_rows is not None)
    return "\n".join(lines).rstrip("\n") + "\n"
