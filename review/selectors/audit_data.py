"""The audit's inputs as integer-coded numpy arrays, read in a few values_list queries.

Everything the dashboard, the `agreement` command and the drill-downs compute starts from one
AuditData: per sample (the dataset's samples under the source filter, ascending id) the models'
labels and confidences, the critic's latest verdict, the current final label and the gold
label; per human rating its unit, rater and value; per human decision who, when and how long.
Labels are codes into the taxonomy's labels; -1 (or NaN for floats) means missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth import get_user_model
from django.db.models import FloatField, Func, QuerySet, Value
from django.utils import timezone

from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from review.models import Adjudication, Annotation, BinaryVote

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
VERDICTS = [v.value for v in CriticVerdict.Verdict]
CHUNK = 20_000  # rows per fetch from the database cursor


class EpochSeconds(Func):
    """A timestamp as float seconds since 1970, computed by the database: converting hundreds of
    thousands of datetimes in Python costs more than the query."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)")


@dataclass(frozen=True)
class AuditFilters:
    dataset: Dataset
    source: str = ""
    since: date | None = None
    until: date | None = None  # inclusive

    def cache_part(self) -> str:
        return f"{self.dataset.pk}:{self.source}:{self.since or ''}:{self.until or ''}"

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out)."""
        params = {"dataset": self.dataset.name, "source": self.source}
        params["since"] = self.since.isoformat() if self.since else ""
        params["until"] = self.until.isoformat() if self.until else ""
        return {key: value for key, value in params.items() if value}

    def window(self, field: str) -> dict[str, datetime]:
        """ORM lookups keeping rows whose `field` falls in the date range (local dates)."""
        lookups = {}
        if self.since:
            lookups[f"{field}__gte"] = _midnight(self.since)
        if self.until:
            lookups[f"{field}__lt"] = _midnight(self.until + timedelta(days=1))
        return lookups


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


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

    @property
    def n_samples(self) -> int:
        return int(self.sample_ids.shape[0])


def load_audit_data(*, filters: AuditFilters) -> AuditData:
    dataset = filters.dataset
    labels = list(dataset.taxonomy.labels)
    code = {label: i for i, label in enumerate(labels)}
    samples = _samples(filters)
    ids, source_list, source_codes, gold = _sample_arrays(samples, code)
    models, model_labels, model_conf = _proposals(filters, ids, code)
    critic_label, critic_verdict = _critic(filters, ids, code)
    binary = BinaryVote.objects.filter(sample__dataset=dataset).exists()
    ratings = _votes(filters, ids, code) if binary else _answers(filters, ids, code)
    decisions = _decisions(filters, ids)
    return AuditData(
        labels=labels,
        binary=binary,
        sample_ids=ids,
        sources=source_list,
        sample_source=source_codes,
        gold=gold,
        models=models,
        model_labels=model_labels,
        model_conf=model_conf,
        critic_label=critic_label,
        critic_verdict=critic_verdict,
        final=_final(filters, ids, code),
        **ratings,
        **decisions,
    )


def columns(qs: QuerySet[Any, Any], n: int) -> list[list[Any]]:
    """The n columns of a values_list query as lists, fetched in chunks."""
    rows = list(qs.iterator(chunk_size=CHUNK))
    if not rows:
        return [[] for _ in range(n)]
    return [list(col) for col in zip(*rows, strict=True)]


def encode(values: Sequence[Any], code: dict[Any, int]) -> IntArray:
    return np.fromiter((code.get(v, -1) for v in values), dtype=np.int64, count=len(values))


def positions(ids: IntArray, wanted: Iterable[int]) -> IntArray:
    """Index of each wanted sample id in `ids` (ascending), -1 when it is not there."""
    found = np.fromiter(wanted, dtype=np.int64)
    if not len(ids) or not len(found):
        return np.full(len(found), -1, dtype=np.int64)
    index = np.searchsorted(ids, found).clip(0, len(ids) - 1)
    return np.where(ids[index] == found, index, -1)


def _samples(filters: AuditFilters) -> QuerySet[Sample]:
    qs = Sample.objects.filter(dataset=filters.dataset)
    return qs.filter(source=filters.source) if filters.source else qs


def _related(model: Any, filters: AuditFilters, field: str) -> QuerySet[Any]:
    """Rows of `model` on the filtered samples, inside the date window on `field`."""
    qs = model.objects.filter(sample__dataset=filters.dataset, **filters.window(field))
    return qs.filter(sample__source=filters.source) if filters.source else qs


def _sample_arrays(
    samples: QuerySet[Sample], code: dict[str, int]
) -> tuple[IntArray, list[str], IntArray, IntArray]:
    ids, sources, gold = columns(
        samples.values_list("id", "source", "gold_emotion").order_by("id"), 3
    )
    source_list = sorted(set(sources))
    return (
        np.asarray(ids, dtype=np.int64),
        source_list,
        encode(sources, {s: i for i, s in enumerate(source_list)}),
        encode(gold, code),
    )


def _proposals(
    filters: AuditFilters, ids: IntArray, code: dict[str, int]
) -> tuple[list[str], IntArray, FloatArray]:
    qs = _related(Proposal, filters, "created_at")
    sid, model, emotion, confidence = columns(
        qs.values_list("sample_id", "model_name", "emotion", "confidence"), 4
    )
    models = sorted(set(model))
    row = positions(ids, sid)
    col = encode(model, {m: j for j, m in enumerate(models)})
    kept = row >= 0
    labels = np.full((len(ids), len(models)), -1, dtype=np.int64)
    conf = np.full((len(ids), len(models)), np.nan)
    labels[row[kept], col[kept]] = encode(emotion, code)[kept]
    values = np.array([np.nan if c is None else c for c in confidence], dtype=np.float64)
    conf[row[kept], col[kept]] = values[kept] if len(values) else values
    return models, labels, conf


def _last_per_sample(ids: IntArray, sid: list[int], values: list[IntArray]) -> list[IntArray]:
    """For rows ordered oldest first within each sample: the last row's values per sample."""
    row = positions(ids, sid)
    out = [np.full(len(ids), -1, dtype=np.int64) for _ in values]
    kept = row >= 0
    for target, value in zip(out, values, strict=True):
        target[row[kept]] = value[kept]  # later rows overwrite earlier ones (numpy keeps the last)
    return out


def _critic(
    filters: AuditFilters, ids: IntArray, code: dict[str, int]
) -> tuple[IntArray, IntArray]:
    qs = _related(CriticVerdict, filters, "created_at").order_by("sample_id", "created_at", "id")
    sid, verdict, emotion = columns(qs.values_list("sample_id", "verdict", "emotion"), 3)
    label, kind = _last_per_sample(
        ids, sid, [encode(emotion, code), encode(verdict, {v: i for i, v in enumerate(VERDICTS)})]
    )
    return label, kind


def _final(filters: AuditFilters, ids: IntArray, code: dict[str, int]) -> IntArray:
    qs = _related(Adjudication, filters, "decided_at").filter(reverted=False)
    sid, emotion = columns(
        qs.order_by("sample_id", "version").values_list("sample_id", "emotion"), 2
    )
    return _last_per_sample(ids, sid, [encode(emotion, code)])[0]


def _usernames(user_ids: Iterable[int]) -> tuple[list[str], dict[int, int]]:
    """(usernames sorted, {user id: index into them})."""
    found = get_user_model().objects.filter(pk__in=sorted(set(user_ids)))
    pairs = sorted(found.values_list("username", "pk"))
    return [name for name, _ in pairs], {pk: i for i, (_, pk) in enumerate(pairs)}


def _answers(filters: AuditFilters, ids: IntArray, code: dict[str, int]) -> dict[str, Any]:
    """Label answers: one unit per sample. Numbers when the answers are numbers only."""
    qs = _related(Annotation, filters, "created_at")
    sid, user, emotion, number, confidence = columns(
        qs.values_list("sample_id", "annotator_id", "emotion", "value_number", "confidence"), 5
    )
    numeric = bool(sid) and not any(emotion) and all(n is not None for n in number)
    value = (
        np.array(number, dtype=np.float64) if numeric else encode(emotion, code).astype(np.float64)
    )
    unit = positions(ids, sid)
    kept = (unit >= 0) & ~np.isnan(value) & ((value >= 0) | numeric)  # numbers may be negative
    raters, index = _usernames(user)
    return {
        "numeric": numeric,
        "unit_sample": np.arange(len(ids), dtype=np.int64),
        "unit_emotion": np.full(len(ids), -1, dtype=np.int64),
        "raters": raters,
        "rating_unit": unit[kept],
        "rating_rater": encode(user, index)[kept],
        "rating_value": value[kept],
        "rating_confidence": _floats(confidence)[kept],
    }


def _votes(filters: AuditFilters, ids: IntArray, code: dict[str, int]) -> dict[str, Any]:
    """Binary votes: one unit per (sample, emotion) asked about, values 1.0 (yes) / 0.0 (no)."""
    qs = _related(BinaryVote, filters, "created_at")
    sid, emotion, user, vote = columns(
        qs.values_list("sample_id", "emotion", "annotator_id", "value"), 4
    )
    sample = positions(ids, sid)
    label = encode(emotion, code)
    kept = (sample >= 0) & (label >= 0)
    width = max(len(code), 1)
    keys, unit = np.unique(sample[kept] * width + label[kept], return_inverse=True)
    raters, index = _usernames(user)
    return {
        "numeric": False,
        "unit_sample": (keys // width).astype(np.int64),
        "unit_emotion": (keys % width).astype(np.int64),
        "raters": raters,
        "rating_unit": unit.reshape(-1).astype(np.int64),
        "rating_rater": encode(user, index)[kept],
        "rating_value": np.array(vote, dtype=np.float64)[kept] if vote else np.zeros(0),
        "rating_confidence": np.full(int(kept.sum()), np.nan),
    }


def _floats(values: list[Any]) -> FloatArray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _decisions(filters: AuditFilters, ids: IntArray) -> dict[str, Any]:
    """Decisions people made in the app, with their time: answers, votes, final labels."""
    answers = _related(Annotation, filters, "created_at").filter(source=Annotation.Source.APP)
    votes = _related(BinaryVote, filters, "created_at").filter(source=Annotation.Source.APP)
    finals = _related(Adjudication, filters, "decided_at").filter(annotator__isnull=False)
    parts = [
        answers.values_list(
            "annotator_id", "sample_id", EpochSeconds("created_at"), "time_spent_ms"
        ),
        votes.values_list("annotator_id", "sample_id", EpochSeconds("created_at"), Value(0)),
        finals.values_list(
            "annotator_id", "sample_id", EpochSeconds("decided_at"), "time_spent_ms"
        ),
    ]
    user, sid, at, spent = ([], [], [], [])
    for qs in parts:
        u, s, a, t = columns(qs, 4)
        user += u
        sid += s
        at += a
        spent += t
    people, index = _usernames(user)
    sample = positions(ids, sid)
    kept = sample >= 0
    return {
        "people": people,
        "decision_person": encode(user, index)[kept],
        "decision_sample": sample[kept],
        "decision_at": np.array(at, dtype=np.float64)[kept] if at else np.zeros(0),
        "decision_spent": np.array(spent, dtype=np.float64)[kept] / 1000 if spent else np.zeros(0),
    }
