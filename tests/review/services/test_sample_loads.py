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


def counted() -> dict[int, tuple]:
    """What the rows should be: every sample with an answer, a vote or a lease."""
    answers = Counter(Annotation.objects.values_list("sample_id", flat=True))
    load = answers + Counter(BinaryVote.objects.values_list("sample_id", flat=True))
    touched = set(load) | set(Assignment.objects.values_list("sample_id", flat=True))
    samples = Sample.objects.filter(pk__in=touched).values_list(
        "pk", "dataset_id", "status", "human_check", "gold_emotion"
    )
    disputed, agreed = Sample.Status.DISPUTED, Sample.Status.AGREED
    return {
        pk: (dataset, load[pk], answers[pk], status == disputed,
             status == disputed or (status == agreed and check), gold != "")
        for pk, dataset, status, check, gold in samples
    }  # fmt: skip


def kept() -> dict[int, tuple]:
    rows = SampleLoad.objects.values_list(
        "sample_id", "dataset_id", "n", "answers", "disputed", "open", "gold"
    )
    return {pk: (ds, n, a, bool(d), bool(o), bool(g)) for pk, ds, n, a, d, o, g in rows}


def assert_kept() -> None:
    # A sample whose answers were all deleted keeps a row with n = 0: rows are never fewer
    # than the samples touched, and an extra row only costs a look.
    rows, expected = kept(), counted()
    extra = {pk: row for pk, row in rows.items() if pk not in expected}
    assert all(row[1] == row[2] == 0 for row in extra.values()), extra
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
            sample.human_check = rng.choice([True, False])
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
    assert kept() == {sample.pk: (sample.dataset_id, 1, 1, True, True, False)}


@pytest.mark.parametrize("seed", range(3))
def test_samples_waiting_for_an_adjudicator_are_read_from_the_rows(seed):
    """needs_adjudication (the adjudicators' queue and its count) says what its rule says:
    open, not gold, with k answers in or a conflict, over random work and k 1-3. (A conflict
    is only ever written about answers or votes, so its sample has a row.)"""
    from review.models import AuditEvent
    from review.selectors.assignment import needs_adjudication
    from review.selectors.queue import adjudication_count

    rng = random.Random(seed)
    datasets = [DatasetFactory.create(overlap_k=k) for k in (1, 2, 3)]
    people = [member(ANNOTATOR) for _ in range(3)]
    statuses = [Sample.Status.DISPUTED, Sample.Status.AGREED, Sample.Status.ADJUDICATED]
    for _ in range(30):
        sample = SampleFactory.create(
            dataset=rng.choice(datasets), status=rng.choice(statuses),
            human_check=rng.random() < 0.5, gold_emotion=rng.choice(["", "", "awe"]),
        )  # fmt: skip
        for person in rng.sample(people, rng.randint(0, 3)):
            Annotation.objects.create(sample=sample, annotator=person, emotion="awe")
        if sample.annotations.exists() and rng.random() < 0.3:  # as consensus writes one
            AuditEvent.objects.create(sample=sample, action="conflict")
        if rng.random() < 0.2:  # a status moved afterwards (a decision, a new check)
            Sample.objects.filter(pk=sample.pk).update(status=rng.choice(statuses))
    expected = set()
    for s in Sample.objects.select_related("dataset"):
        is_open = s.status == "disputed" or (s.status == "agreed" and s.human_check)
        answered = s.annotations.count() >= max(s.dataset.overlap_k, 1)
        conflict = AuditEvent.objects.filter(sample=s, action="conflict").exists()
        if is_open and not s.gold_emotion and (answered or conflict):
            expected.add(s.pk)
    assert set(needs_adjudication().values_list("pk", flat=True)) == expected
    assert adjudication_count(dataset=None) == len(expected)
    for ds in datasets:
        assert adjudication_count(dataset=ds) == len(expected & set(
            Sample.objects.filter(dataset=ds).values_list("pk", flat=True)))  # fmt: skip
