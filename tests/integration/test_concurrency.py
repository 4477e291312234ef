"""Races on the real PostgreSQL: many people pressing "Next" at once, two saves of one label.

Each thread has its own database connection, so the row locks (FOR NO KEY UPDATE SKIP LOCKED)
and the unique (sample, version) constraint do the work, as in production.
Run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from annotator.models import Sample, Taxonomy
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.labels import Label
from review.models import Adjudication, Annotation, Assignment, AuditEvent
from review.roles import ADJUDICATOR, ANNOTATOR
from review.services.adjudication import VersionConflict, adjudicate_sample
from review.services.assignment import lease_next_sample
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = [
    pytest.mark.postgres,
    # Threads need committed rows; the flush afterwards is followed by post_migrate re-seeding.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _seeded_taxonomy():
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as exc:  # the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_many_people_pressing_next_at_once_never_exceed_k_per_sample():
    k, samples, people = 2, 6, 40
    ds = DatasetFactory.create(overlap_k=k)
    SampleFactory.create_batch(samples, dataset=ds)
    crowd = [member(ANNOTATOR) for _ in range(people)]

    results = _race([partial(lease_next_sample, user=p, dataset=ds) for p in crowd])

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    leases = Assignment.objects.filter(status=Assignment.Status.ACTIVE)
    per_sample = Counter(leases.values_list("sample_id", flat=True))
    assert max(per_sample.values()) <= k
    # Every slot went to someone and nobody got two.
    assert sum(per_sample.values()) == samples * k
    assert len(set(leases.values_list("annotator_id", flat=True))) == samples * k
    assert sum(r is not None for r in results) == samples * k


def test_answers_arriving_together_settle_the_sample_once():
    ds = DatasetFactory.create(overlap_k=3)
    sample = SampleFactory.create(dataset=ds)
    people = [member(ANNOTATOR) for _ in range(3)]
    for person in people:
        leased = lease_next_sample(user=person, dataset=ds)
        assert leased is not None and leased.sample == sample

    awe = Label(emotion="awe", confidence=7.0)
    results = _race([partial(submit_answer, sample=sample, annotator=p, label=awe) for p in people])

    assert not [r for r in results if isinstance(r, Exception)]
    assert Annotation.objects.filter(sample=sample).count() == 3
    decision = Adjudication.objects.get(sample=sample)  # exactly one consensus
    assert decision.method == Adjudication.Method.CONSENSUS
    assert AuditEvent.objects.filter(sample=sample, action="consensus").count() == 1
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED


@pytest.mark.parametrize("racers", [2, 8])
def test_concurrent_saves_of_one_label_one_wins_the_others_get_the_conflict(racers):
    sample = SampleFactory.create()
    judges = [member(ADJUDICATOR) for _ in range(racers)]
    emotions = ["awe", "fear", "sadness", "anger", "disgust", "contentment", "excitement", "awe"]

    def save(judge: Any, emotion: str) -> Adjudication:
        return adjudicate_sample(
            sample=Sample.objects.get(pk=sample.pk),
            annotator=judge,
            label=Label(emotion=emotion, confidence=5.0),
            base_version=0,  # everyone opened the page before anyone saved
        )

    results = _race([partial(save, j, e) for j, e in zip(judges, emotions, strict=False)])

    won = [r for r in results if isinstance(r, Adjudication)]
    lost = [r for r in results if isinstance(r, VersionConflict)]
    assert len(won) == 1 and len(lost) == racers - 1, results
    assert all(c.theirs is not None and c.theirs.pk == won[0].pk for c in lost)
    assert list(Adjudication.objects.values_list("version", flat=True)) == [1]
    assert AuditEvent.objects.filter(sample=sample, action="decide").count() == 1
