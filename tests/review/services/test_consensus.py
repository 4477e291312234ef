"""Blind answers: k = 1 decides directly, k answers that agree are a consensus, otherwise the
sample waits for an adjudicator; gold samples are only measured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Sample
from review.labels import Label
from review.models import Adjudication, Annotation, Assignment, AuditEvent, Draft
from review.roles import ANNOTATOR
from review.selectors.assignment import needs_adjudication
from review.services.adjudication import VersionConflict
from review.services.consensus import (
    LeaseLost,
    consensus_label,
    submit_answer,
)
from tests.factories import AdjudicationFactory, DatasetFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


def _answer(sample, person, emotion="awe", *, base_version=None, **fields):
    fields.setdefault("confidence", 8.0)
    label = Label(emotion=emotion, **fields)
    return submit_answer(sample=sample, annotator=person, label=label, base_version=base_version)


def _leased(sample, n):
    people = [member(ANNOTATOR) for _ in range(n)]
    for person in people:
        lease(sample, person)
    return people


def test_k1_answer_is_the_final_label_decided_by_that_person():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    (person,) = _leased(sample, 1)
    outcome = _answer(sample, person, "Fear", subject=" figure ")
    decision = outcome.decision
    assert decision is not None
    assert (decision.method, decision.annotator, decision.version) == ("person", person, 1)
    assert (decision.emotion, decision.subject) == ("fear", "figure")
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    assert Assignment.objects.get(sample=sample).status == Assignment.Status.SUBMITTED
    assert list(AuditEvent.objects.filter(sample=sample).values_list("action", flat=True)) == [
        "decide",
        "answer",
    ]


def test_k_answers_that_agree_are_a_consensus():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    a, b = _leased(sample, 2)
    first = _answer(sample, a, "awe", confidence=6.0, subject="hiker")
    assert first.decision is None and not first.conflict
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.DISPUTED
    second = _answer(sample, b, "awe", confidence=9.0, subject="Hiker", background="snow")
    decision = second.decision
    assert decision is not None and decision.method == Adjudication.Method.CONSENSUS
    assert decision.annotator is None
    assert decision.details["annotators"] == [a.username, b.username]
    assert (decision.confidence, decision.subject, decision.background) == (7.5, "hiker", "snow")
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    event = AuditEvent.objects.get(sample=sample, action="consensus")
    assert event.actor is None and event.after is not None and event.after["emotion"] == "awe"


def test_disagreeing_answers_wait_for_an_adjudicator():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    a, b = _leased(sample, 2)
    _answer(sample, a, "awe")
    outcome = _answer(sample, b, "fear")
    assert outcome.conflict and outcome.decision is None
    assert not Adjudication.objects.exists()
    assert list(needs_adjudication()) == [sample]
    event = AuditEvent.objects.get(sample=sample, action="conflict")
    assert event.after == {a.username: "awe", b.username: "fear"}


def test_gold_answers_are_measured_not_decided():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1), gold_emotion="awe")
    (person,) = _leased(sample, 1)
    outcome = _answer(sample, person, "fear")
    assert outcome.decision is None
    assert Annotation.objects.get(sample=sample).emotion == "fear"
    assert not Adjudication.objects.exists()


def test_answer_needs_a_lease_and_only_once():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    outsider = member(ANNOTATOR)
    with pytest.raises(ValidationError, match="not assigned"):
        _answer(sample, outsider)
    (person,) = _leased(sample, 1)
    _answer(sample, person)
    with pytest.raises(ValidationError, match="not assigned"):
        _answer(sample, person)  # the lease was used up
    assert Annotation.objects.count() == 1


def test_a_second_answer_under_a_live_lease_is_refused_and_writes_nothing():
    """An answer already stored (imported, say) and a live lease again: the unique constraint
    refuses the second answer, and the lease, the draft and the history stay as they were."""
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    (person,) = _leased(sample, 1)
    Annotation.objects.create(sample=sample, annotator=person, emotion="fear", confidence=5.0)
    Draft.objects.create(sample=sample, author=person, data={"emotion": "awe"})
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="You already answered this sample"):
        _answer(sample, person)
    assert Annotation.objects.get(sample=sample).emotion == "fear"
    assert Assignment.objects.get(sample=sample).status == Assignment.Status.ACTIVE
    assert Draft.objects.filter(sample=sample).exists()
    assert AuditEvent.objects.count() == events
    (other,) = _leased(sample, 1)  # the sample still takes answers afterwards
    assert _answer(sample, other, "fear").annotation.emotion == "fear"


def test_a_late_answer_is_kept_while_there_is_room_and_refused_when_the_slot_is_gone():
    ds = DatasetFactory.create(overlap_k=1)
    roomy, taken = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    late = member(ANNOTATOR)
    lease(roomy, late, seconds=-10)
    assert _answer(roomy, late).decision is not None
    lease(taken, late, seconds=-10)
    lease(taken, member(ANNOTATOR))  # someone else holds the slot now
    with pytest.raises(LeaseLost):
        _answer(taken, late)
    assert not Annotation.objects.filter(sample=taken).exists()


def test_k1_answer_against_a_newer_decision_is_a_conflict_and_writes_nothing():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    (person,) = _leased(sample, 1)
    Draft.objects.create(sample=sample, author=person, data={"emotion": "awe"})
    AdjudicationFactory.create(sample=sample, version=1, emotion="sadness")
    with pytest.raises(VersionConflict) as info:
        _answer(sample, person, "fear", base_version=0)
    assert info.value.theirs is not None and info.value.theirs.emotion == "sadness"
    assert not Annotation.objects.exists()
    assert Draft.objects.filter(author=person).exists()  # the work is not lost


def test_consensus_label_needs_every_answer_to_name_the_same_emotion():
    sample = SampleFactory.create()
    a, b, c = member(), member(), member()
    answers = [answer(sample, a, "awe"), answer(sample, b, "awe")]
    assert consensus_label(answers=answers) is not None
    answers.append(answer(sample, c, "fear"))
    assert consensus_label(answers=answers) is None
    assert consensus_label(answers=[]) is None
