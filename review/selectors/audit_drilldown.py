"""The samples behind each audit number: a mask over AuditData's samples per figure.

Every function reuses the arrays and rules the figures were computed from, so a number and its
drill-down list always count the same samples. Parameters come from the URL as strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotator.models import Sample
from review.selectors.audit_data import VERDICTS, AuditData, BoolArray, IntArray, positions
from review.selectors.audit_models import (
    CRITIC,
    calibration_bins,
    calibration_inputs,
    critic_overturned,
    judge_labels,
    judges,
)
from review.selectors.audit_people import rating_consensus, rating_gold, slot_matrix
from review.stats import disputed_units

Params = Mapping[str, str]


class DrilldownError(ValueError):
    """The figure or one of its parameters is unknown."""


@dataclass(frozen=True)
class Drilldown:
    title: str
    sample_ids: IntArray  # ascending


def drilldown(*, data: AuditData, figure: str, params: Params) -> Drilldown:
    handler = FIGURES.get(figure)
    if handler is None:
        raise DrilldownError(f"unknown figure {figure!r}; one of {', '.join(sorted(FIGURES))}")
    title, mask = handler(data, params)
    return Drilldown(title=title, sample_ids=data.sample_ids[mask])


def _flag(params: Params, name: str) -> bool:
    return params.get(name, "") in {"1", "true", "yes"}


def _label(data: AuditData, params: Params, name: str) -> int:
    value = params.get(name, "")
    if value not in data.labels:
        raise DrilldownError(f"{name}: {value!r} is not a label of this dataset")
    return data.labels.index(value)


def _model(data: AuditData, params: Params, name: str, *, critic: bool = False) -> int:
    names = judges(data) if critic else data.models
    value = params.get(name, "")
    if value not in names:
        raise DrilldownError(f"{name}: {value!r} is not one of {', '.join(names) or 'no models'}")
    return names.index(value)


def _samples_of_units(data: AuditData, units: BoolArray) -> BoolArray:
    mask = np.zeros(data.n_samples, dtype=bool)
    mask[data.unit_sample[units]] = True
    return mask


def _model_units(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    return "samples with a model label", np.asarray((data.model_labels >= 0).any(axis=1))


def _disputes(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    """Disputed (or, with all=1, comparable) samples, optionally where any model said `label`."""
    disputed, comparable = disputed_units(data.model_labels)
    every = _flag(params, "all")
    mask = comparable if every else disputed
    title = "samples with 2+ model labels" if every else "samples the models disagree on"
    if params.get("label"):
        k = _label(data, params, "label")
        mask = mask & (data.model_labels == k).any(axis=1)
        title += f" where a model said {data.labels[k]}"
    return title, mask


def _pair(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    i, j = _model(data, params, "a"), _model(data, params, "b")
    a, b = data.model_labels[:, i], data.model_labels[:, j]
    mask = (a >= 0) & (b >= 0)
    title = f"labelled by both {data.models[i]} and {data.models[j]}"
    if params.get("x") or params.get("y"):
        x, y = _label(data, params, "x"), _label(data, params, "y")
        mask &= (a == x) & (b == y)
        title = f"{data.models[i]} said {data.labels[x]}, {data.models[j]} said {data.labels[y]}"
    elif _flag(params, "disagree"):
        mask &= a != b
        title = f"{data.models[i]} and {data.models[j]} disagree"
    return title, mask


def _judge(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    """A model's (or the critic's) label compared with the final label; miss=1: they differ."""
    j = _model(data, params, "model", critic=True)
    name, labels = judges(data)[j], judge_labels(data)[:, j]
    mask = (labels >= 0) & (data.final >= 0)
    if _flag(params, "miss"):
        return f"{name}'s label differs from the final label", mask & (labels != data.final)
    return f"{name}'s label compared with the final label", mask


def _critic(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    verdict = params.get("verdict", "")
    if verdict not in VERDICTS:
        raise DrilldownError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
    overturned, reviewed = critic_overturned(data)
    mask = reviewed & (data.critic_verdict == VERDICTS.index(verdict))
    if _flag(params, "overturned"):
        return f"people overturned the critic's {verdict}", mask & overturned
    return f"the critic said {verdict} and people gave a final label", mask


def _calibration(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    j = _model(data, params, "model")
    compared, conf, correct = calibration_inputs(data, j)
    try:
        wanted = int(params.get("bin", ""))
    except ValueError as exc:
        raise DrilldownError("bin: must be a whole number") from exc
    mask = compared & (calibration_bins(conf) == wanted)
    title = f"{data.models[j]}'s confidence in bin {wanted}"
    if _flag(params, "wrong"):
        return title + ", label not the final one", mask & ~correct
    return title, mask


def _human(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    """Units people rated; split=1: rated twice or more and not unanimously."""
    units = np.bincount(data.rating_unit, minlength=len(data.unit_sample)) > 0
    title = "samples people rated"
    if _flag(params, "split"):
        matrix, _ = slot_matrix(data.rating_unit, data.rating_value, len(data.unit_sample))
        high, low = np.fmax.reduce(matrix, axis=1), np.fmin.reduce(matrix, axis=1)
        units = units & ((~np.isnan(matrix)).sum(axis=1) >= 2) & (high != low)
        title = "samples people disagree on"
    if params.get("emotion"):
        k = _label(data, params, "emotion")
        units = units & (data.unit_emotion == k)
        title += f" (is it {data.labels[k]}?)"
    return title, _samples_of_units(data, units)


def _annotator(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    """An annotator's ratings; against=consensus|gold keeps the compared ones, miss=1 the misses."""
    name = params.get("annotator", "")
    if name not in data.raters:
        raise DrilldownError(f"annotator: {name!r} gave no rating here")
    mine = data.rating_rater == data.raters.index(name)
    title = f"samples {name} rated"
    against = params.get("against", "")
    if against:
        if against not in {"consensus", "gold"}:
            raise DrilldownError("against: one of consensus, gold")
        compared, agrees = rating_consensus(data) if against == "consensus" else rating_gold(data)
        mine &= compared & (~agrees if _flag(params, "miss") else True)
        verb = "differs from" if _flag(params, "miss") else "compared with"
        title = f"{name}'s answer {verb} the {against}"
    units = np.zeros(len(data.unit_sample), dtype=bool)
    units[data.rating_unit[mine]] = True
    return title, _samples_of_units(data, units)


def _decisions(data: AuditData, params: Params) -> tuple[str, BoolArray]:
    name = params.get("annotator", "")
    if name not in data.people:
        raise DrilldownError(f"annotator: {name!r} made no decision here")
    mask = np.zeros(data.n_samples, dtype=bool)
    mask[data.decision_sample[data.decision_person == data.people.index(name)]] = True
    return f"samples {name} decided in the app", mask


FIGURES: dict[str, Callable[[AuditData, Params], tuple[str, BoolArray]]] = {
    "models": _model_units,
    "disputes": _disputes,
    "pair": _pair,
    "judge": _judge,
    "critic": _critic,
    "calibration": _calibration,
    "human": _human,
    "annotator": _annotator,
    "decisions": _decisions,
}


@dataclass(frozen=True)
class SampleFacts:
    """One row of a drill-down list: what the audit knows about the sample."""

    pk: int
    external_id: str
    status: str
    source: str
    models: list[str]  # each model's label, "" where it gave none
    critic: str  # "verdict: emotion" of the latest verdict
    final: str
    ratings: int  # human ratings (votes) on the sample


ID_CHUNK = 900  # ids per IN (...) query


def sample_facts(*, data: AuditData, sample_ids: Sequence[int]) -> list[SampleFacts]:
    """Facts for the given samples (ascending id), two columns from the database, the rest from
    the arrays; ids are read in chunks so a long CSV never builds a huge IN list."""
    rated = np.bincount(data.unit_sample[data.rating_unit], minlength=data.n_samples)
    names: dict[int, tuple[str, str]] = {}
    for start in range(0, len(sample_ids), ID_CHUNK):
        chunk = [int(pk) for pk in sample_ids[start : start + ID_CHUNK]]
        rows = Sample.objects.filter(pk__in=chunk).values_list("id", "external_id", "status")
        names.update({pk: (external_id, status) for pk, external_id, status in rows})
    index = positions(data.sample_ids, [int(pk) for pk in sample_ids])
    return [
        _facts(data, int(pk), int(i), names.get(int(pk), ("", "")), int(rated[i]))
        for pk, i in zip(sample_ids, index, strict=True)
        if i >= 0
    ]


def _facts(data: AuditData, pk: int, i: int, name: tuple[str, str], ratings: int) -> SampleFacts:
    def label(code: int) -> str:
        return data.labels[code] if code >= 0 else ""

    verdict = int(data.critic_verdict[i])
    critic = f"{VERDICTS[verdict]}: {label(int(data.critic_label[i]))}" if verdict >= 0 else ""
    return SampleFacts(
        pk=pk,
        external_id=name[0],
        status=name[1],
        source=data.sources[int(data.sample_source[i])] if data.sources else "",
        models=[label(int(code)) for code in data.model_labels[i]],
        critic=critic.rstrip(": "),
        final=label(int(data.final[i])),
        ratings=ratings,
    )


__all__ = [
    "CRITIC",
    "FIGURES",
    "Drilldown",
    "DrilldownError",
    "SampleFacts",
    "drilldown",
    "sample_facts",
]
