"""An annotator's progress, their place in their own work, and what they skipped."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.models import Sample
from review.labels import Label
from review.models import Assignment, AuditEvent
from review.roles import ANNOTATOR
from review.selectors.assignment import annotation_candidates
from review.selectors.progress import (
    WorkPlace,
    annotator_progress,
    available_count,
    open_skipped_count,
    start_of_today,
    user_work,
    work_counts,
    work_place,
)
from review.selectors.untouched import untouched_candidate_ids
from review.services.assignment import lease_next_sample, skip_assignment
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


def _next(person) -> Sample:
    got = lease_next_sample(user=person)
    assert got is not None
    return got.sample


def _answer_next(person, emotion="awe"):
    """Next, then answer it: what an annotator does on the page."""
    sample = _next(person)
    submit_answer(sample=sample, annotator=person, label=Label(emotion=emotion, confidence=7.0))
    return sample


def test_progress_counts_done_in_hand_to_go_and_today():
    ds = DatasetFactory.create(overlap_k=1)
    SampleFactory.create_batch(5, dataset=ds)
    person = member(ANNOTATOR)
    assert annotator_progress(user=person) == annotator_progress(user=person, dataset=ds)
    start = annotator_progress(user=person)
    assert (start.done, start.held, start.available, start.total) == (0, 0, 5, 5)
    first = _answer_next(person)
    _answer_next(person)
    lease_next_sample(user=person)
    progress = annotator_progress(user=person)
    assert (progress.done, progress.held, progress.available, progress.today) == (2, 1, 2, 2)
    assert (progress.remaining, progress.total, progress.finished) == (3, 5, False)
    # An answer from yesterday is done, not today.
    yesterday = timezone.now() - timedelta(days=1)
    Assignment.objects.filter(sample=first).update(finished_at=yesterday, leased_at=yesterday)
    assert annotator_progress(user=person).today == 1


def test_available_count_matches_the_candidates_query_on_mixed_data():
    """The cheap count must say what weighing every open sample's load says."""
    ds = DatasetFactory.create(overlap_k=2)
    person, a, b = member(ANNOTATOR), member(ANNOTATOR), member(ANNOTATOR)
    untouched = SampleFactory.create_batch(3, dataset=ds)
    half = SampleFactory.create(dataset=ds)
    answer(half, a, "awe")  # one answer of two: room for one more
    full = SampleFactory.create(dataset=ds)
    answer(full, a, "awe")
    lease(full, b)  # k reached with a live lease
    expired_full = SampleFactory.create(dataset=ds)
    answer(expired_full, a, "awe")
    lease(expired_full, b, seconds=-5)  # expired: the slot is free again
    mine = SampleFactory.create(dataset=ds)
    answer(mine, person, "fear")  # answered by the person: not for them again
    skipped = SampleFactory.create(dataset=ds)
    lease(skipped, person, status=Assignment.Status.SKIPPED)
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)  # not open
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED, human_check=True)
    gold = SampleFactory.create(dataset=ds, status=Sample.Status.AGREED, gold_emotion="awe")
    answer(gold, a, "awe")
    answer(gold, b, "awe")  # gold is never capped by k
    binary_ds = DatasetFactory.create(binary_protocol={"max_votes": 3})
    SampleFactory.create(dataset=binary_ds)
    busy_binary = SampleFactory.create(dataset=binary_ds)
    lease(busy_binary, a)  # one voter at a time
    conflict = SampleFactory.create(dataset=ds)
    answer(conflict, a, "awe")
    answer(conflict, b, "fear")
    AuditEvent.objects.create(sample=conflict, action="conflict")
    now = timezone.now()
    for scope in (None, ds, binary_ds):
        expected = annotation_candidates(user=person, dataset=scope, now=now).count()
        assert available_count(user=person, dataset=scope, now=now) == expected
        assert_untouched_first(person=person, scope=scope, now=now)
    assert available_count(user=person, dataset=None, now=now) == len(untouched) + 5


@pytest.mark.parametrize("golds", [["", "", "", "awe"], [""]])
@pytest.mark.parametrize("ks", [(1, 2, 3), (2, 3)])
@pytest.mark.parametrize("seed", range(3))
def test_available_count_matches_the_candidates_query_on_random_work(seed, ks, golds):
    """Random answers, leases (live, expired, skipped, submitted) and gold over datasets of
    k 1-3 (and 2-3: samples below the smallest k are not read): the count says what the
    candidates query says, for each person and scope. Without gold only disputed samples are
    open, and "Next" reads SampleLoad's disputed rows instead of every answer."""
    rng = random.Random(seed)
    datasets = [DatasetFactory.create(overlap_k=k) for k in ks]
    people = [member(ANNOTATOR) for _ in range(4)]
    statuses = [Assignment.Status.ACTIVE, Assignment.Status.SKIPPED, Assignment.Status.SUBMITTED]
    for _ in range(30):
        sample = SampleFactory.create(
            dataset=rng.choice(datasets),
            status=rng.choice([Sample.Status.DISPUTED] * 4 + [Sample.Status.AGREED]),
            gold_emotion=rng.choice(golds),
        )
        for person in rng.sample(people, rng.randint(0, 4)):
            if rng.random() < 0.5:
                answer(sample, person, "awe")
            else:
                lease(sample, person, status=rng.choice(statuses), seconds=rng.choice([-5, 600]))
    now = timezone.now()
    for person in people:
        for scope in (None, *datasets):
            expected = annotation_candidates(user=person, dataset=scope, now=now).count()
            assert available_count(user=person, dataset=scope, now=now) == expected
            assert_untouched_first(person=person, scope=scope, now=now)
        assert_progress_ranges_agree(person=person, now=now)


def assert_progress_ranges_agree(*, person, now) -> None:
    """The figures read as ranges of an index say what one pass over their leases says."""
    from review.selectors.progress import _progress_counts, _progress_figures

    # One answer from yesterday, one closed by votes (no finished_at: its lease time counts).
    moment = start_of_today(now=now)
    mine = list(Assignment.objects.filter(annotator=person).order_by("pk").values_list("pk"))
    if mine:
        Assignment.objects.filter(pk=mine[0][0]).update(finished_at=moment - timedelta(hours=1))
    if len(mine) > 1:
        Assignment.objects.filter(pk=mine[1][0]).update(finished_at=None, leased_at=now)
    values = {"user_id": person.pk, "now": now, "midnight": moment}
    rows = list(_progress_figures(**values))
    assert _progress_counts(**values) == (tuple(rows[0]) if rows else (0, 0, 0, 0))


def assert_untouched_first(*, person, scope, now) -> None:
    """ "Next"'s cheap first try (no counts) finds the candidates of load 0, in their order."""
    weighed: list[Any] = list(annotation_candidates(user=person, dataset=scope, now=now))
    loadless = [s.pk for s in weighed if s.load == 0]  # an annotation the model does not declare
    assert untouched_candidate_ids(user=person, dataset=scope, now=now, limit=500) == loadless


def test_progress_queries_do_not_grow_with_work_or_samples():
    ds = DatasetFactory.create(overlap_k=1)
    person = member(ANNOTATOR)

    def queries() -> int:
        sample_id = Assignment.objects.filter(annotator=person)[0].sample_id
        with CaptureQueriesContext(connection) as captured:
            annotator_progress(user=person)
            work_place(user=person, sample_id=sample_id)
        return len(captured)

    SampleFactory.create_batch(3, dataset=ds)
    _answer_next(person)
    without_skips = queries()
    skip_assignment(sample=_next(person), user=person)
    few = queries()  # more: the skipped sample is touched and disputed, and may have room
    SampleFactory.create_batch(30, dataset=ds)
    for _ in range(6):
        _answer_next(person)
    skip_assignment(sample=_next(person), user=person)
    assert without_skips < few == queries() <= 14


def test_work_place_walks_the_work_in_the_order_it_was_handed_out():
    ds = DatasetFactory.create(overlap_k=1)
    SampleFactory.create_batch(4, dataset=ds)
    person = member(ANNOTATOR)
    first, second = _answer_next(person), _answer_next(person)
    skipped = _next(person)
    skip_assignment(sample=skipped, user=person)
    current = _next(person)
    assert work_place(user=person, sample_id=first.pk) == WorkPlace(1, None, second.pk)
    assert work_place(user=person, sample_id=second.pk) == WorkPlace(2, first.pk, current.pk)
    assert work_place(user=person, sample_id=current.pk) == WorkPlace(3, second.pk, None)
    # A skipped sample is not in the work: K leads back to its end.
    assert work_place(user=person, sample_id=skipped.pk) == WorkPlace(0, current.pk, None)


def test_work_place_breaks_ties_on_the_hand_out_moment_by_id_and_counts_only_their_work():
    ds = DatasetFactory.create(overlap_k=3)
    samples = SampleFactory.create_batch(5, dataset=ds)
    person, other = member(ANNOTATOR), member(ANNOTATOR)
    leases = [lease(s, person, status=Assignment.Status.SUBMITTED) for s in samples[:4]]
    lease(samples[4], other)  # someone else's work, between theirs
    lease(samples[4], person, kind=Assignment.Kind.ADJUDICATE)  # not annotating work
    moment = timezone.now() - timedelta(minutes=5)
    Assignment.objects.filter(pk__in=[a.pk for a in leases[1:3]]).update(leased_at=moment)
    Assignment.objects.filter(pk=leases[0].pk).update(leased_at=moment - timedelta(seconds=1))
    ids = [a.sample_id for a in leases]  # in hand-out order: 0, then 1 and 2 (tied), then 3
    assert work_place(user=person, sample_id=ids[1]) == WorkPlace(2, ids[0], ids[2])
    assert work_place(user=person, sample_id=ids[2]) == WorkPlace(3, ids[1], ids[3])
    assert work_place(user=person, sample_id=ids[3]) == WorkPlace(4, ids[2], None)


def test_skipped_samples_are_listed_with_whether_they_can_be_taken_back():
    ds = DatasetFactory.create(overlap_k=1)
    open_one, taken, decided = SampleFactory.create_batch(3, dataset=ds)
    person, other = member(ANNOTATOR), member(ANNOTATOR)
    for sample in (open_one, taken, decided):
        lease(sample, person, status=Assignment.Status.SKIPPED)
    lease(taken, other)  # someone else holds it now (k = 1: no room)
    decided.status = Sample.Status.ADJUDICATED
    decided.save()
    lease(SampleFactory.create(dataset=ds), person)
    skips = user_work(user=person, show="skipped")
    rows = {a.sample_id: a.can_take_back for a in skips}  # type: ignore[attr-defined]
    assert rows == {open_one.pk: True, taken.pk: False, decided.pk: False}
    assert open_skipped_count(user=person, now=timezone.now()) == 1
    # "All" is everything handed to them, the skips too, each saying whether it can come back.
    assert work_counts(user=person) == {"held": 1, "answered": 0, "skipped": 3, "": 4}
    everything = {a.sample_id: a.status for a in user_work(user=person)}
    assert list(everything.values()).count(Assignment.Status.SKIPPED) == 3 and len(everything) == 4
    progress = annotator_progress(user=person)
    assert (progress.skipped_open, progress.finished) == (1, False)
    assert progress.total == 2  # the one in hand + the skipped one still open


def test_a_new_human_check_or_gold_sample_counts_at_once():
    """Whether human-check and gold samples exist comes from QueueCount, never stale."""
    ds = DatasetFactory.create(overlap_k=1)
    SampleFactory.create_batch(3, dataset=ds)
    agreed = SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    other = SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    person = member(ANNOTATOR)
    assert annotator_progress(user=person).available == 3
    Sample.objects.filter(pk=agreed.pk).update(human_check=True)  # as the sampling service does
    assert annotator_progress(user=person).available == 4
    assert annotator_progress(user=person, dataset=ds).available == 4
    Sample.objects.filter(pk=other.pk).update(gold_emotion="awe")
    assert annotator_progress(user=person).available == 5
    Sample.objects.filter(pk__in=[agreed.pk, other.pk]).update(status=Sample.Status.DROPPED)
    assert annotator_progress(user=person).available == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_annotators_count_folds_postgres_delta_rows_when_they_pile_up(monkeypatch):
    """Only annotators at work (no queue page read): the deltas the status triggers append
    are still folded, so the count's sum over them stays short."""
    from review.models import QueueCount
    from review.services import queue_counts as upkeep

    monkeypatch.setattr(upkeep, "COMPACT_SLACK", 5)
    ds = DatasetFactory.create(overlap_k=2)
    samples = SampleFactory.create_batch(20, dataset=ds)
    for sample in samples:  # one statement each: one delta row each
        Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.AGREED)
    piled = QueueCount.objects.count()
    assert piled > 10
    person = member(ANNOTATOR)
    expected = annotation_candidates(user=person, dataset=None, now=timezone.now()).count()
    assert available_count(user=person, dataset=None, now=timezone.now()) == expected
    assert QueueCount.objects.count() < piled
