"""Every rating of a dataset's samples, as the latent-class fit reads them.

A rater is one VLM or classifier ("model:<model_name>"), the critic ("critic:<model_name>") or one
person ("person:<user id>"). A person counts once per sample: their latest answer among their
Annotation, BlindAnswer and non-reverted Adjudications (a revised answer replaces the blind one).
Labels are mapped to taxonomy indices case-insensitively; an unknown label is skipped and counted.
Read in bulk with values_list: at 219K samples x 3 models these are a few hundred thousand tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from annotator.selectors.proposals import classifier_model_names
from review.models import Adjudication, Annotation, BlindAnswer

MODEL, CLASSIFIER, CRITIC, PERSON = "model", "classifier", "critic", "person"


@dataclass(frozen=True)
class Rating:
    """One rater's answer on one sample (the per-sample view: the sample page)."""

    key: str
    kind: str
    name: str  # model name, "critic", or the person's username
    said: str  # the taxonomy's spelling


@dataclass
class Ratings:
    """All ratings of a dataset as parallel arrays (the fit's input)."""

    labels: list[str]
    sample_ids: npt.NDArray[np.int64]  # one per rated sample; `task` indexes into it
    task: npt.NDArray[np.int32]
    rater: npt.NDArray[np.int32]
    label: npt.NDArray[np.int32]
    rater_keys: list[str]
    rater_kinds: list[str]
    rater_names: list[str]
    skipped_unknown: int = 0
    skipped_labels: dict[str, int] = field(default_factory=dict)

    @property
    def n_ratings(self) -> int:
        return int(self.task.size)


# (sample id, rater key, kind, name, raw label)
Row = tuple[int, str, str, str, str]


def label_index(labels: list[str]) -> dict[str, int]:
    return {label.casefold(): i for i, label in enumerate(labels)}


def collect_ratings(*, dataset: Dataset) -> Ratings:
    """Every rating of `dataset`, one per (sample, rater), labels as taxonomy indices."""
    labels = list(dataset.taxonomy.labels)
    rows = _rows(Q(sample__dataset_id=dataset.pk))
    return ratings_from_rows(labels=labels, rows=rows)


def ratings_from_rows(*, labels: list[str], rows: Iterable[Row]) -> Ratings:
    """Arrays from (sample id, key, kind, name, label) rows; unknown labels skipped, counted."""
    index = label_index(labels)
    keys: dict[str, int] = {}
    kinds: list[str] = []
    names: list[str] = []
    sample_col: list[int] = []
    rater_col: list[int] = []
    label_col: list[int] = []
    skipped: dict[str, int] = {}
    for sample_id, key, kind, name, raw in rows:
        j = index.get(raw.strip().casefold())
        if j is None:
            skipped[raw] = skipped.get(raw, 0) + 1
            continue
        r = keys.get(key)
        if r is None:
            r = keys[key] = len(kinds)
            kinds.append(kind)
            names.append(name)
        sample_col.append(sample_id)
        rater_col.append(r)
        label_col.append(j)
    sample_ids, task = np.unique(np.asarray(sample_col, dtype=np.int64), return_inverse=True)
    return Ratings(
        labels=labels,
        sample_ids=sample_ids,
        task=task.astype(np.int32),
        rater=np.asarray(rater_col, dtype=np.int32),
        label=np.asarray(label_col, dtype=np.int32),
        rater_keys=list(keys),
        rater_kinds=kinds,
        rater_names=names,
        skipped_unknown=sum(skipped.values()),
        skipped_labels=skipped,
    )


def sample_ratings(*, sample: Sample) -> list[Rating]:
    """The ratings of one sample (labels in the taxonomy's spelling; unknown ones left out)."""
    labels = list(sample.dataset.taxonomy.labels)
    index = label_index(labels)
    found = []
    for _sid, key, kind, name, raw in _rows(Q(sample_id=sample.pk)):
        j = index.get(raw.strip().casefold())
        if j is not None:
            found.append(Rating(key=key, kind=kind, name=name, said=labels[j]))
    return found


def _rows(by_sample: Q) -> Iterator[Row]:
    yield from _model_rows(by_sample)
    yield from _critic_rows(by_sample)
    yield from _person_rows(by_sample)


def _model_rows(by_sample: Q) -> Iterator[Row]:
    proposals = Proposal.objects.filter(by_sample).exclude(emotion="")
    classifiers = classifier_model_names(proposals=proposals)
    for sample_id, model_name, emotion in proposals.values_list(
        "sample_id", "model_name", "emotion"
    ).iterator(chunk_size=20_000):
        kind = CLASSIFIER if model_name in classifiers else MODEL
        yield sample_id, f"model:{model_name}", kind, model_name, emotion


def _critic_rows(by_sample: Q) -> Iterator[Row]:
    """The latest round's verdict per sample (an admin's restore is a person's answer)."""
    verdicts: QuerySet[CriticVerdict] = CriticVerdict.objects.filter(by_sample).exclude(
        model_name__startswith=CriticVerdict.PERSON_PREFIX
    )
    latest: dict[int, tuple[str, str]] = {}
    for sample_id, model_name, emotion in (
        verdicts.order_by("sample_id", "round", "created_at", "id")
        .values_list("sample_id", "model_name", "emotion")
        .iterator(chunk_size=20_000)
    ):
        latest[sample_id] = (model_name, emotion)
    for sample_id, (model_name, emotion) in latest.items():
        if emotion:
            yield sample_id, f"critic:{model_name}", CRITIC, "critic", emotion


def _person_rows(by_sample: Q) -> Iterator[Row]:
    """One answer per person per sample: the latest of their answers."""
    answers: list[tuple[datetime, int, int, str]] = []
    sources = (
        (Annotation.objects.filter(by_sample).exclude(emotion=""), "created_at"),
        (BlindAnswer.objects.filter(by_sample).exclude(emotion=""), "answered_at"),
        (
            Adjudication.objects.filter(by_sample, reverted=False, annotator__isnull=False),
            "decided_at",
        ),
    )
    for queryset, at in sources:
        for when, sample_id, user_id, emotion in queryset.values_list(
            at, "sample_id", "annotator_id", "emotion"
        ).iterator(chunk_size=20_000):
            answers.append((when, sample_id, user_id, emotion))
    answers.sort(key=lambda a: a[0])
    latest = {(sample_id, user_id): emotion for _w, sample_id, user_id, emotion in answers}
    usernames = _usernames({user_id for _s, user_id in latest})
    for (sample_id, user_id), emotion in latest.items():
        name = usernames.get(user_id, str(user_id))
        yield sample_id, f"person:{user_id}", PERSON, name, emotion


def _usernames(user_ids: set[int]) -> dict[int, str]:
    user_model = get_user_model()
    field_name = user_model.USERNAME_FIELD
    return dict(
        user_model.objects.filter(pk__in=user_ids).values_list("pk", field_name)  # type: ignore[misc]
    )
