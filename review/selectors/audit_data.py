"""The audit's inputs as integer-coded numpy arrays, read in a few values_list queries.

Everything the dashboard, the `agreement` command and the drill-downs compute starts from one
AuditData: per sample (the dataset's samples under the source filter, ascending id) the models'
labels and confidences, the critic's latest verdict, the current final label and the gold
label; per human rating its unit, rater and value; per human decision who, when and how long.
Labels are codes into the taxonomy's labels; -1 (or NaN for floats) means missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet

from annotator.models import CriticVerdict, Proposal, Sample
from review.models import Adjudication, Annotation, BinaryVote
from review.selectors.audit_query import (
    AuditFilters,
    BoolArray,
    EpochMillis,
    FloatArray,
    IntArray,
    coded,
    fetch,
    in_background,
    positions,
)

__all__ = [
    "VERDICTS",
    "AuditData",
    "AuditFilters",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "load_audit_data",
    "positions",
]

VERDICTS = [v.value for v in CriticVerdict.Verdict]


@dataclass
class AuditData:
    labels: list[str]
    binary: bool  # the human units are (sample, emotion) yes/no votes
    numeric: bool  # the human values are numbers, not category codes
    sample_ids: IntArray  # (S,) ascending
    sources: list[str]
    sample_source: IntArray  # (S,) index into sources
    gold: IntArray  # (S,)
    models: list[str]
    model_labels: IntArray  # (S, M)
    model_conf: FloatArray  # (S, M) 0-10
    critic_label: IntArray  # (S,) the latest verdict's emotion
    critic_verdict: IntArray  # (S,) index into VERDICTS
    final: IntArray  # (S,) the current (highest, not reverted) final label
    unit_sample: IntArray  # (U,) index into the sample arrays
    unit_emotion: IntArray  # (U,) binary units: the emotion asked about; else -1
    raters: list[str]  # usernames
    rating_unit: IntArray  # (R,)
    rating_rater: IntArray  # (R,) index into raters
    rating_value: FloatArray  # (R,) label code, number, or 1.0/0.0 for yes/no
    rating_confidence: FloatArray  # (R,) 0-10 or NaN
    people: list[str]  # usernames of those who made the timed decisions below
    decision_person: IntArray  # (D,) index into people
    decision_sample: IntArray  # (D,) index into the sample arrays
    decision_at: FloatArray  # (D,) epoch seconds
    decision_spent: FloatArray  # (D,) seconds the browser recorded; 0 = unknown
    fingerprint: str = ""  # of the tables when loaded (review.selectors.audit)
    loaded_at: float = 0.0  # epoch seconds

    @property
    def n_samples(self) -> int:
        return int(self.sample_ids.shape[0])


# Integer arrays are kept small (AuditData stays in memory); floats stay float64 so every
# figure sees exactly the stored values.
COMPACT = {
    "sample_source": np.int32,
    "gold": np.int16,
    "model_labels": np.int16,
    "critic_label": np.int16,
    "critic_verdict": np.int8,
    "final": np.int16,
    "unit_sample": np.int32,
    "unit_emotion": np.int16,
    "rating_unit": np.int32,
    "rating_rater": np.int32,
    "decision_person": np.int32,
    "decision_sample": np.int32,
}


def load_audit_data(*, filters: AuditFilters) -> AuditData:
    data = _load(filters)
    for name, dtype in COMPACT.items():
        setattr(data, name, getattr(data, name).astype(dtype))
    return data


def _load(filters: AuditFilters) -> AuditData:
    dataset = filters.dataset
    labels = list(dataset.taxonomy.labels)
    ids, sources, source_codes, gold = _samples(filters, labels)
    binary = BinaryVote.objects.filter(sample__dataset=dataset).exists()
    # The two biggest reads side by side: the database works while numpy parses the other.
    people = in_background(_votes if binary else _answers, filters, ids, labels)
    models, model_labels, model_conf = _proposals(filters, ids, labels)
    critic_label, critic_verdict = _critic(filters, ids, labels)
    final, final_decisions, person_versions = _adjudications(filters, ids, labels)
    ratings, decisions = people()
    final_decisions = final_decisions[~_answer_copies(final_decisions, person_versions, decisions)]
    return AuditData(
        labels=labels,
        binary=binary,
        sample_ids=ids,
        sources=sources,
        sample_source=source_codes,
        gold=gold,
        models=models,
        model_labels=model_labels,
        model_conf=model_conf,
        critic_label=critic_label,
        critic_verdict=critic_verdict,
        final=final,
        **ratings,
        **_people(decisions, final_decisions),
    )


def _codes(column: FloatArray) -> IntArray:
    return np.nan_to_num(column, nan=-1).astype(np.int64)


def _related(model: Any, filters: AuditFilters, field: str, ids: IntArray) -> QuerySet[Any]:
    """Rows of `model` on the filtered samples (`ids`), inside the date window on `field`.

    When the dataset's sample ids are nearly contiguous (one import writes them in a row), an id
    range stands in for the join with the sample table: a third less time for 657K proposals.
    Rows of other datasets inside the range are dropped later by `positions`.
    """
    qs = model.objects.filter(**filters.window(field)).order_by()
    if not len(ids):
        return qs.none()
    if not filters.source and int(ids[-1] - ids[0]) < 2 * len(ids):
        # sample_id + 0: reading most of the table, a scan beats SQLite's walk of the index.
        in_range = qs.alias(scanned_sample_id=F("sample_id") + 0)
        return in_range.filter(
            scanned_sample_id__gte=int(ids[0]), scanned_sample_id__lte=int(ids[-1])
        )
    qs = qs.filter(sample__dataset=filters.dataset)
    return qs.filter(sample__source=filters.source) if filters.source else qs


def _samples(
    filters: AuditFilters, labels: list[str]
) -> tuple[IntArray, list[str], IntArray, IntArray]:
    qs = Sample.objects.filter(dataset=filters.dataset)
    if filters.source:
        qs = qs.filter(source=filters.source)
    sources = sorted(set(qs.order_by().values_list("source", flat=True).distinct()))
    rows = fetch(
        qs.order_by().values_list("id", coded("source", sources), coded("gold_emotion", labels))
    )
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    return rows[:, 0].astype(np.int64), sources, _codes(rows[:, 1]), _codes(rows[:, 2])


def _proposals(
    filters: AuditFilters, ids: IntArray, labels: list[str]
) -> tuple[list[str], IntArray, FloatArray]:
    qs = _related(Proposal, filters, "created_at", ids)
    models = sorted(set(qs.values_list("model_name", flat=True).distinct()))
    rows = fetch(
        qs.values_list(
            "sample_id", coded("model_name", models), coded("emotion", labels), "confidence"
        )
    )
    row, col = positions(ids, rows[:, 0]), _codes(rows[:, 1])
    kept = (row >= 0) & (col >= 0)
    label_matrix = np.full((len(ids), len(models)), -1, dtype=np.int64)
    conf_matrix = np.full((len(ids), len(models)), np.nan)
    label_matrix[row[kept], col[kept]] = _codes(rows[kept, 2])
    conf_matrix[row[kept], col[kept]] = rows[kept, 3]
    return models, label_matrix, conf_matrix


def _last_per_sample(row: IntArray, order_key: FloatArray) -> tuple[IntArray, IntArray]:
    """(sample index, row number) of each sample's last row by `order_key` (rows of other
    samples, row < 0, are skipped)."""
    kept = np.flatnonzero(row >= 0)
    order = kept[np.lexsort((order_key[kept], row[kept]))]
    sorted_rows = row[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = sorted_rows[1:] != sorted_rows[:-1]
    return sorted_rows[last], order[last]


def _critic(filters: AuditFilters, ids: IntArray, labels: list[str]) -> tuple[IntArray, IntArray]:
    """The latest verdict per sample: its emotion and its kind."""
    qs = _related(CriticVerdict, filters, "created_at", ids)
    rows = fetch(
        qs.values_list(
            "sample_id",
            EpochMillis("created_at"),
            "id",
            coded("emotion", labels),
            coded("verdict", VERDICTS),
        )
    )
    label = np.full(len(ids), -1, dtype=np.int64)
    kind = np.full(len(ids), -1, dtype=np.int64)
    order_key = np.empty(len(rows))  # rank by time, then id
    order_key[np.lexsort((rows[:, 2], rows[:, 1]))] = np.arange(len(rows))
    sample, row = _last_per_sample(positions(ids, rows[:, 0]), order_key)
    label[sample], kind[sample] = _codes(rows[row, 3]), _codes(rows[row, 4])
    return label, kind


def _adjudications(
    filters: AuditFilters, ids: IntArray, labels: list[str]
) -> tuple[IntArray, FloatArray, BoolArray]:
    """(current final label per sample, the decisions people made: user, sample, when, spent,
    which of those are versions of method person)."""
    qs = _related(Adjudication, filters, "decided_at", ids)
    rows = fetch(
        qs.values_list(
            "sample_id",
            "version",
            coded("emotion", labels),
            "reverted",
            "annotator_id",
            EpochMillis("decided_at"),
            "time_spent_ms",
            coded("method", [Adjudication.Method.PERSON]),
        )
    )
    row = positions(ids, rows[:, 0])
    current = np.where(rows[:, 3] > 0, -1, row)  # reverted versions never count
    final = np.full(len(ids), -1, dtype=np.int64)
    sample, last = _last_per_sample(current, rows[:, 1])
    final[sample] = _codes(rows[last, 2])
    by_person = (row >= 0) & ~np.isnan(rows[:, 4])
    decisions = _decision_rows(rows[by_person, 4], row[by_person], rows[by_person, 5:7])
    return final, decisions, rows[by_person, 7] == 0


def _answer_copies(versions: FloatArray, person: BoolArray, answers: FloatArray) -> BoolArray:
    """The label versions that repeat an answer: with k = 1 a person's answer is also written as
    the final label (method person), one decision that must not count twice."""
    width = max(int(versions[:, 1].max(initial=0)), int(answers[:, 1].max(initial=0))) + 1
    answered = answers[:, 0].astype(np.int64) * width + answers[:, 1].astype(np.int64)
    keys = versions[:, 0].astype(np.int64) * width + versions[:, 1].astype(np.int64)
    return person & np.isin(keys, answered)


def _decision_rows(user: FloatArray, sample: IntArray, at_spent_ms: FloatArray) -> FloatArray:
    """Decisions as a D x 4 array: user id, sample index, epoch seconds, seconds spent (from
    epoch milliseconds and milliseconds spent)."""
    spent = np.nan_to_num(at_spent_ms[:, 1], nan=0.0) / 1000
    return np.column_stack([user, sample, at_spent_ms[:, 0] / 1000, spent]).reshape(-1, 4)


def _usernames(user_ids: FloatArray) -> tuple[list[str], IntArray]:
    """(usernames in id order, index of each given user id into them)."""
    unique, index = np.unique(user_ids.astype(np.int64), return_inverse=True)
    names = dict(
        get_user_model().objects.filter(pk__in=unique.tolist()).values_list("pk", "username")
    )
    return [names.get(int(pk), f"user {pk}") for pk in unique], index.reshape(-1).astype(np.int64)


def _answers(
    filters: AuditFilters, ids: IntArray, labels: list[str]
) -> tuple[dict[str, Any], FloatArray]:
    """Label answers (one unit per sample; numbers when the answers are numbers only), and the
    app answers as timed decisions."""
    qs = _related(Annotation, filters, "created_at", ids)
    # Numbers count only when no answer is a category: otherwise they need not be read.
    maybe_numeric = not qs.filter(emotion__in=labels).exists()
    columns: list[Any] = ["sample_id", "annotator_id", coded("emotion", labels), "confidence"]
    columns += [coded("source", [Annotation.Source.APP]), EpochMillis("created_at")]
    columns += ["time_spent_ms", *(["value_number"] if maybe_numeric else [])]
    rows = fetch(qs.values_list(*columns))
    numbers = rows[:, 7] if maybe_numeric else np.full(len(rows), np.nan)
    unit = positions(ids, rows[:, 0])
    categories = rows[:, 2] >= 0
    numeric = bool(len(rows)) and not categories.any() and not np.isnan(numbers).any()
    value = numbers if numeric else np.where(categories, rows[:, 2], np.nan)
    kept = (unit >= 0) & ~np.isnan(value)
    raters, rater = _usernames(rows[kept, 1])
    ratings = {
        "numeric": numeric,
        "unit_sample": np.arange(len(ids), dtype=np.int64),
        "unit_emotion": np.full(len(ids), -1, dtype=np.int64),
        "raters": raters,
        "rating_unit": unit[kept],
        "rating_rater": rater,
        "rating_value": value[kept],
        "rating_confidence": rows[kept, 3],
    }
    app = (unit >= 0) & (rows[:, 4] == 0)
    return ratings, _decision_rows(rows[app, 1], unit[app], rows[app, 5:7])


def _votes(
    filters: AuditFilters, ids: IntArray, labels: list[str]
) -> tuple[dict[str, Any], FloatArray]:
    """Binary votes: one unit per (sample, emotion) asked about, values 1.0 (yes) / 0.0 (no);
    votes made in the app are timed decisions (without a recorded time)."""
    qs = _related(BinaryVote, filters, "created_at", ids)
    rows = fetch(
        qs.values_list(
            "sample_id",
            coded("emotion", labels),
            "annotator_id",
            "value",
            coded("source", [Annotation.Source.APP]),
            EpochMillis("created_at"),
        )
    )
    sample, label = positions(ids, rows[:, 0]), _codes(rows[:, 1])
    kept = (sample >= 0) & (label >= 0)
    width = max(len(labels), 1)
    keys, unit = np.unique(sample[kept] * width + label[kept], return_inverse=True)
    raters, rater = _usernames(rows[kept, 2])
    ratings = {
        "numeric": False,
        "unit_sample": (keys // width).astype(np.int64),
        "unit_emotion": (keys % width).astype(np.int64),
        "raters": raters,
        "rating_unit": unit.reshape(-1).astype(np.int64),
        "rating_rater": rater,
        "rating_value": rows[kept, 3],
        "rating_confidence": np.full(int(kept.sum()), np.nan),
    }
    app = (sample >= 0) & (rows[:, 4] == 0)
    timing = np.column_stack([rows[app, 5], np.zeros(int(app.sum()))])
    return ratings, _decision_rows(rows[app, 2], sample[app], timing)


def _people(*decisions: FloatArray) -> dict[str, Any]:
    """The decision columns of AuditData from D x 4 arrays (user, sample, when, spent)."""
    rows = np.concatenate(decisions) if decisions else np.zeros((0, 4))
    people, person = _usernames(rows[:, 0])
    return {
        "people": people,
        "decision_person": person,
        "decision_sample": rows[:, 1].astype(np.int64),
        "decision_at": rows[:, 2],
        "decision_spent": rows[:, 3],
    }
