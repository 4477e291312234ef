"""Leases: fairness, the k cap, one lease per person, expiry, skip and take back,
adjudication leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotator.models import Sample
from review.models import Assignment, AuditEvent
from review.roles import ADJUDICATOR, ANNOTATOR
from review.services.assignment import (
    expire_stale_leases,
    lease_next_sample,
    skip_assignment,
    take_back_skipped,
)
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def ds():
    return DatasetFactory.create(overlap_k=2, lease_seconds=60)


def _people(n: int) -> list:
    return [member(ANNOTATOR) for _ in range(n)]


def _leased(person, **kwargs) -> Sample | None:
    """The sample "Next" hands `person` (None: queue done)."""
    got = lease_next_sample(user=person, **kwargs)
    return got.sample if got is not None else None


def test_a_sample_goes_to_at_most_k_people_then_the_next_one(ds):
    first, second = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    a, b, c = _people(3)
    # Fairness: fewest answers and leases first, so a and b get different samples...
    assert _leased(a, dataset=ds) == first
    assert _leased(b, dataset=ds) == second
    # ...and c completes the first one's k = 2.
    assert _leased(c, dataset=ds) == first
    d = member(ANNOTATOR)
    assert _leased(d, dataset=ds) == second
    assert lease_next_sample(user=member(ANNOTATOR), dataset=ds) is None  # both hold k leases


def test_fairness_prefers_fewest_answers_then_oldest(ds):
    old, young = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    answer(old, member(), "awe")
    got = lease_next_sample(user=member(ANNOTATOR), dataset=ds)
    assert got is not None and got.sample == young


def test_next_returns_the_running_lease_instead_of_a_second_one(ds):
    SampleFactory.create_batch(2, dataset=ds)
    person = member(ANNOTATOR)
    first = lease_next_sample(user=person)
    assert lease_next_sample(user=person) == first
    assert Assignment.objects.filter(annotator=person).count() == 1


def test_nobody_answers_a_sample_twice(ds):
    sample = SampleFactory.create(dataset=ds)
    person = member(ANNOTATOR)
    answer(sample, person, "awe")  # e.g. imported earlier
    assert lease_next_sample(user=person) is None


def test_expired_leases_free_the_slot_and_are_marked_lazily(ds):
    sample = SampleFactory.create(dataset=ds)
    a, b, c = _people(3)
    stale = lease(sample, a, seconds=-1)
    lease(sample, b)
    got = lease_next_sample(user=c)
    assert got is not None and got.sample == sample  # a's time ran out: c takes the slot
    stale.refresh_from_db()
    assert stale.status == Assignment.Status.EXPIRED and stale.finished_at is not None


def test_an_expired_lease_is_renewed_for_the_same_person(ds):
    sample = SampleFactory.create(dataset=ds)
    person = member(ANNOTATOR)
    old = lease(sample, person, seconds=-5)
    assert expire_stale_leases() == 1
    renewed = lease_next_sample(user=person)
    assert renewed is not None and renewed.pk == old.pk
    assert renewed.status == Assignment.Status.ACTIVE and renewed.expires_at > timezone.now()
    stored = Assignment.objects.get(pk=old.pk)  # renewed in its row: no second one
    assert (stored.status, stored.expires_at, stored.finished_at) == (
        Assignment.Status.ACTIVE, renewed.expires_at, None,
    )  # fmt: skip
    assert Assignment.objects.count() == 1
    fresh = lease_next_sample(user=member(ANNOTATOR))  # a new row: its id comes back too
    assert fresh is not None and Assignment.objects.get(pk=fresh.pk).sample_id == sample.pk


def test_lease_time_comes_from_the_dataset(ds):
    SampleFactory.create(dataset=ds)
    before = timezone.now()
    got = lease_next_sample(user=member(ANNOTATOR))
    assert got is not None
    assert before + timedelta(seconds=59) < got.expires_at <= timezone.now() + timedelta(seconds=60)


def test_skip_releases_the_sample_for_others_but_not_for_the_skipper(ds):
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    a, b = _people(2)
    assert _leased(a) == sample
    assert lease_next_sample(user=b) is None  # k = 1 is taken
    skip_assignment(sample=sample, user=a)
    assert lease_next_sample(user=a) is None
    assert _leased(b) == sample
    assert AuditEvent.objects.filter(sample=sample, action="skip", actor=a).exists()


def test_skip_without_a_lease_is_refused(ds):
    with pytest.raises(ValidationError):
        skip_assignment(sample=SampleFactory.create(dataset=ds), user=member(ANNOTATOR))


def test_only_open_samples_are_handed_out(ds):
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    SampleFactory.create(dataset=ds, status=Sample.Status.ADJUDICATED)
    SampleFactory.create(dataset=ds, status=Sample.Status.PENDING)
    checked = SampleFactory.create(dataset=ds, status=Sample.Status.AGREED, human_check=True)
    got = lease_next_sample(user=member(ANNOTATOR))
    assert got is not None and got.sample == checked


def test_gold_samples_go_to_every_annotator_once(ds):
    gold = SampleFactory.create(dataset=ds, status=Sample.Status.AGREED, gold_emotion="awe")
    people = _people(4)  # more than k
    for person in people:
        got = lease_next_sample(user=person)
        assert got is not None and got.sample == gold


def test_adjudication_leases_go_to_one_adjudicator_per_conflict(ds):
    conflict = SampleFactory.create(dataset=ds)
    answer(conflict, member(), "awe")
    answer(conflict, member(), "fear")
    SampleFactory.create(dataset=ds)  # no answers yet: nothing to adjudicate
    first, second = member(ADJUDICATOR), member(ADJUDICATOR)
    got = lease_next_sample(user=first, kind=Assignment.Kind.ADJUDICATE)
    assert got is not None and got.sample == conflict
    assert lease_next_sample(user=second, kind=Assignment.Kind.ADJUDICATE) is None
    assert AuditEvent.objects.filter(sample=conflict, action="lease", actor=first).exists()


def test_a_skipped_sample_can_be_taken_back_while_it_still_waits(ds):
    sample = SampleFactory.create(dataset=ds)
    person = member(ANNOTATOR)
    lease(sample, person)
    skip_assignment(sample=sample, user=person)
    taken = take_back_skipped(sample=sample, user=person)
    assert (taken.sample, taken.status) == (sample, Assignment.Status.ACTIVE)
    assert taken.expires_at > timezone.now()
    assert lease_next_sample(user=person) == taken  # "Next" reopens it
    assert AuditEvent.objects.filter(sample=sample, action="take_back").count() == 1


def test_taking_back_is_refused_when_the_sample_is_gone_or_was_not_skipped(ds):
    full, decided = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    person = member(ANNOTATOR)
    for sample in (full, decided):
        lease(sample, person, status=Assignment.Status.SKIPPED)
    a, b = _people(2)
    lease(full, a)
    lease(full, b)  # k = 2 people hold it now
    Sample.objects.filter(pk=decided.pk).update(status=Sample.Status.ADJUDICATED)
    for sample in (full, decided, SampleFactory.create(dataset=ds)):
        with pytest.raises(ValidationError):
            take_back_skipped(sample=sample, user=person)
    assert not Assignment.objects.filter(annotator=person, status="active").exists()
