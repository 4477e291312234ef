"""Audit figures about people: agreement among them, each annotator against the consensus and
gold, per-emotion agreement of yes/no votes, and throughput. Built on review.stats."""

from __future__ import annotations

from typing import Any

import numpy as np

from review import stats
from review.selectors.audit_data import AuditData, BoolArray, FloatArray, IntArray
from review.selectors.audit_models import rate

CELLS_PER_CHUNK = 4_000_000  # bounds the leave-one-out matrices' memory (~32 MB of floats)


def slot_matrix(unit: IntArray, value: FloatArray, n_units: int) -> tuple[FloatArray, IntArray]:
    """(units x most-ratings-per-unit matrix, slot of each rating): a unit's ratings side by side.

    The agreement statistics only need a unit's values, not who gave them, so this compact
    matrix stands in for the sparse units x annotators one.
    """
    order = np.argsort(unit, kind="stable")
    sorted_units = unit[order]
    per_unit = np.bincount(unit, minlength=n_units)
    start = np.concatenate(([0], np.cumsum(per_unit)[:-1])).astype(np.int64)
    slot = np.empty(len(unit), dtype=np.int64)
    slot[order] = np.arange(len(unit)) - start[sorted_units]
    width = int(per_unit.max()) if len(unit) else 0
    matrix = np.full((n_units, width), np.nan)
    matrix[unit, slot] = value
    return matrix, slot


def _shifted(values: FloatArray) -> tuple[FloatArray, bool]:
    """Numbers moved to start at 0 when some are negative (the statistics read negatives as
    missing); (values, whether they were moved). Moving keeps every alpha but the ratio one."""
    low = float(values.min()) if len(values) else 0.0
    return (values - low, True) if low < 0 else (values, False)


def human_figures(data: AuditData) -> dict[str, Any]:
    """Agreement among people over the human units (samples, or (sample, emotion) for votes)."""
    values, moved = _shifted(data.rating_value) if data.numeric else (data.rating_value, False)
    matrix, _ = slot_matrix(data.rating_unit, values, len(data.unit_sample))
    human = stats.human_summary(matrix, numeric=data.numeric)
    if moved:
        human["krippendorff_alpha"]["ratio"] = None  # a ratio scale has no negative values
    confidence = None
    known = ~np.isnan(data.rating_confidence)
    if known.any():
        conf_matrix, _ = slot_matrix(
            data.rating_unit[known], data.rating_confidence[known], len(data.unit_sample)
        )
        confidence = stats.human_summary(conf_matrix, numeric=True)
    return {"human": human, "human_confidence": confidence}


def rating_consensus(data: AuditData) -> tuple[BoolArray, BoolArray]:
    """(compared, agrees) per rating, against the majority of the *other* ratings of its unit.

    Not compared when the unit has no other rating or the others tie (as
    review.stats.agreement_with_consensus decides), so per-rater sums equal that function's.
    """
    matrix, slot = slot_matrix(data.rating_unit, data.rating_value, len(data.unit_sample))
    n = len(data.rating_unit)
    compared = np.zeros(n, dtype=bool)
    agrees = np.zeros(n, dtype=bool)
    step = max(1, CELLS_PER_CHUNK // max(matrix.shape[1], 1))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        others = matrix[data.rating_unit[rows]]
        others[np.arange(len(rows)), slot[rows]] = np.nan
        majority = stats.majority_labels(others)
        compared[rows] = ~np.isnan(majority)
        agrees[rows] = majority == data.rating_value[rows]
    return compared, agrees


def rating_gold(data: AuditData) -> tuple[BoolArray, BoolArray]:
    """(compared, agrees) per rating against the sample's gold label (label answers only)."""
    if data.binary or data.numeric:
        none = np.zeros(len(data.rating_unit), dtype=bool)
        return none, none
    gold = data.gold[data.unit_sample[data.rating_unit]]
    return gold >= 0, data.rating_value == gold


def annotator_figures(data: AuditData) -> list[dict[str, Any]]:
    """Per annotator: ratings given, agreement with the consensus of the others, with gold."""
    compared, agrees = rating_consensus(data)
    consensus = stats.rates_by_group(agrees, data.rating_rater, counted=compared)
    gold_compared, gold_agrees = rating_gold(data)
    gold = stats.rates_by_group(gold_agrees, data.rating_rater, counted=gold_compared)
    ratings = np.bincount(data.rating_rater, minlength=len(data.raters))
    return [
        {
            "annotator": name,
            "ratings": int(ratings[i]),
            "consensus": rate(*consensus.get(i, (0, 0))),
            "gold": rate(*gold.get(i, (0, 0))),
        }
        for i, name in enumerate(data.raters)
        if ratings[i]
    ]


def binary_emotion_figures(data: AuditData) -> list[dict[str, Any]] | None:
    """Yes/no votes per emotion: units, votes, share of yes, and the people's agreement."""
    if not data.binary:
        return None
    matrix, _ = slot_matrix(data.rating_unit, data.rating_value, len(data.unit_sample))
    votes = np.bincount(data.unit_emotion[data.rating_unit], minlength=len(data.labels))
    yes = np.bincount(
        data.unit_emotion[data.rating_unit], weights=data.rating_value, minlength=len(data.labels)
    )
    rows = []
    for k, label in enumerate(data.labels):
        summary = stats.human_summary(matrix[data.unit_emotion == k], numeric=False)
        rows.append(
            {
                "emotion": label,
                "units": summary["items"],
                "votes": int(votes[k]),
                "yes_share": float(yes[k] / votes[k]) if votes[k] else None,
                "pairs": summary["pairs"],
                "pairwise_agreement": summary["pairwise_agreement"],
                "unanimous_share": summary["unanimous_share"],
                "krippendorff_alpha": summary["krippendorff_alpha"]["nominal"],
            }
        )
    return rows


def throughput_figures(data: AuditData) -> list[dict[str, Any]]:
    """Per person: decisions made in the app (`items`: answers, votes, label versions), the
    samples they were made on (what the "decisions" drill-down lists), items per hour of active
    work, time per item."""
    if not len(data.decision_person):
        return []
    per_person = stats.throughput(data.decision_person, data.decision_at, data.decision_spent)
    samples = stats.distinct_items(data.decision_person, data.decision_sample)
    return [
        {"annotator": data.people[int(code)], "samples": samples[code], **figures}  # type: ignore[call-overload]
        for code, figures in per_person.items()
    ]
