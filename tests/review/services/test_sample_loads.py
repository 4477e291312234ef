"""SampleLoad's triggers: after any mix of writes, through any path, the rows say what counting
people's tables says."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.db import connection, transaction

from annotator.models import Sample
from review.models import Annotation, Assignment, BinaryVote, SampleLoad
from review.roles import ANNOTATOR
from review.services import sample_loads
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db


def counted() -> dict[int, tuple[int, int, bool, bool]]:
    """What the rows should be: every sample with an answer, a vote or a lease."""
    load = Counter(Annotation.objects.values_list("sample_id", flat=True))
    load.update(BinaryVote.objects.values_list("sample_id", flat=True))
    touched = set(load) | set(Assignment.objects.values_list("sample_id", flat=True))
    samples = Sample.objects.filter(pk__in=touched).values_list(
        "pk", "dataset_id", "status", "gold_emotion"
    )
    return {
        pk: (dataset, load[pk], status == Sample.Status.DISPUTED, gold != "")
        for pk, dataset, status, gold in samples
    }


def kept() -> dict[int, tuple[int, int, bool, bool]]:
    rows = SampleLoad.objects.values_list("sample_id", "dataset_id", "n", "disputed", "gold")
    return {pk: (dataset, n, bool(d), bool(g)) for pk, dataset, n, d, g in rows}


def assert_kept() -> None:
    # A sample whose answers were all deleted keeps a row with n = 0: rows are never fewer
    # than the samples touched, and an extra row only costs a look.
    rows, expected = kept(), counted()
    extra = {pk: row for pk, row in rows.items() if pk not in expected}
    assert all(row[1] == 0 for row in extra.values()), extra
    assert {pk: rows.get(pk) for pk in expected} == expected


@pytest.mark.parametrize("seed", range(3))
def test_the_rows_follow_answers_votes_leases_and_samples_written_any_way(seed):
    rng = random.Random(seed)
    datasets = [DatasetFactory.create() for _ in range(2)]
    people = [member(ANNOTATOR) for _ in range(3)]
    samples = [SampleFactory.create(dataset=rng.choice(datasets)) for _ in range(12)]
    for _ in range(40):
        sample, person = rng.choice(samples), rng.choice(people)
        step = rng.randrange(9)
        if step == 0:
            Annotation.objects.get_or_create(
                sample=sample, annotator=person, defaults={"emotion": "awe"}
            )
        elif step == 1:
            emotion = rng.choice(["awe", "fear"])
            BinaryVote.objects.get_or_create(
                sample=sample, annotator=person, emotion=emotion, defaults={"value": True}
            )
        elif step == 2 and not Assignment.objects.filter(sample=sample, annotator=person):
            lease(sample, person)
        elif step == 3:
            Annotation.objects.filter(sample=sample).delete()  # one statement, several rows
        elif step == 4:  # a pipeline run: one UPDATE over many samples
            status = rng.choice([Sample.Status.DISPUTED, Sample.Status.AGREED])
            Sample.objects.filter(
                pk__in=[s.pk for s in rng.sample(samples, min(5, len(samples)))]
            ).update(status=status)
        elif step == 5:
            sample.gold_emotion = rng.choice(["", "fear"])
            sample.dataset = rng.choice(datasets)
            sample.save()
        elif step == 6:  # an answer moved to a sample its author did not answer
            moved = Annotation.objects.filter(annotator=person).first()
            taken = set(Annotation.objects.filter(annotator=person).values_list("sample_id"))
            free = [s for s in samples if (s.pk,) not in taken]
            if moved is not None and free:
                Annotation.objects.filter(pk=moved.pk).update(sample=rng.choice(free))
        elif step == 7:
            Annotation.objects.bulk_create(
                [Annotation(sample=s, annotator=person, emotion="fear") for s in samples[:3]],
                ignore_conflicts=True,
            )
        elif step == 8 and len(samples) > 4:
            samples.remove(sample)
            sample.delete()  # its answers, votes and leases go with it
        assert_kept()


def test_a_rolled_back_answer_leaves_no_trace_and_a_recount_mends_the_rows():
    sample = SampleFactory.create(dataset=DatasetFactory.create())
    person = member(ANNOTATOR)
    with pytest.raises(RuntimeError), transaction.atomic():
        Annotation.objects.create(sample=sample, annotator=person, emotion="awe")
        raise RuntimeError
    assert kept() == {}
    Annotation.objects.create(sample=sample, annotator=person, emotion="awe")
    SampleLoad.objects.all().delete()
    sample_loads.install_and_recount(using=connection.alias)
    assert kept() == {sample.pk: (sample.dataset_id, 1, True, False)}
