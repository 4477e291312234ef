"""A person changes their own answer until the sample's label is final (k = 1 and k > 1)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Sample
from review.labels import Label
from review.models import Adjudication, Annotation, Assignment, AuditEvent
from review.roles import ADJUDICATOR, ANNOTATOR
from review.selectors.own_answers import answer_change_refusal
from review.selectors.samples import current_adjudication
from review.services.adjudication import VersionConflict, adjudicate_sample, undo_last_decision
from review.services.consensus import submit_answer
from review.services.own_answers import AnswerFinal, change_own_answer
from tests.factories import AdminFactory, DatasetFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db


def _answered(sample, emotion="awe", person=None):
    person = person or member(ANNOTATOR)
    lease(sample, person)
    submit_answer(sample=sample, annotator=person, label=Label(emotion=emotion, confidence=6.0))
    return person


def _change(sample, person, emotion, *, time_spent_ms=0, base_version=None, **fields):
    fields.setdefault("confidence", 8.0)
    return change_own_answer(
        sample=sample,
        annotator=person,
        label=Label(emotion=emotion, **fields),
        time_spent_ms=time_spent_ms,
        base_version=base_version,
    )


def test_k1_a_change_writes_the_next_version_of_the_persons_own_label():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    person = _answered(sample, "awe")
    outcome = _change(sample, person, "Fear", subject=" figure ", time_spent_ms=500, base_version=1)
    decision = outcome.decision
    assert decision is not None
    assert (decision.method, decision.annotator, decision.version) == ("person", person, 2)
    assert (decision.emotion, decision.confidence, decision.subject) == ("fear", 8.0, "figure")
    assert decision.details["changed_answer"] is True
    annotation = Annotation.objects.get(sample=sample)
    assert (annotation.emotion, annotation.subject, annotation.time_spent_ms) == (
        "fear",
        "figure",
        500,
    )
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    change = AuditEvent.objects.get(sample=sample, action="change_answer")
    assert change.before is not None and change.after is not None
    assert (change.before["emotion"], change.after["emotion"]) == ("awe", "fear")
    # Still theirs: it may change again; the same label again writes nothing.
    _change(sample, person, "sadness")
    same = _change(sample, person, "sadness")
    assert same.decision is not None and same.decision.version == 3
    assert Adjudication.objects.filter(sample=sample).count() == 3


def test_k1_the_label_is_final_once_someone_else_decides_on_top():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    person = _answered(sample, "awe")
    adjudicate_sample(
        sample=sample,
        annotator=member(ADJUDICATOR),
        label=Label(emotion="anger", confidence=9.0),
        base_version=1,
    )
    annotation = Annotation.objects.get(sample=sample)
    assert answer_change_refusal(sample=sample, annotation=annotation) is not None
    with pytest.raises(AnswerFinal):
        _change(sample, person, "fear")
    assert Annotation.objects.get(sample=sample).emotion == "awe"
    assert not AuditEvent.objects.filter(action="change_answer").exists()


def test_k1_an_admins_undo_also_makes_it_final_for_the_person():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    person = _answered(sample, "awe")
    undo_last_decision(sample=sample, actor=AdminFactory(), version=1)
    with pytest.raises(AnswerFinal):
        _change(sample, person, "fear")


def test_a_stale_base_version_is_a_conflict_and_writes_nothing():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    person = _answered(sample, "awe")
    _change(sample, person, "fear", base_version=1)  # another tab of theirs: now version 2
    with pytest.raises(VersionConflict):
        _change(sample, person, "sadness", base_version=1)
    current = current_adjudication(sample=sample)
    assert current is not None and current.emotion == "fear"


def test_k2_a_change_that_makes_the_answers_agree_settles_by_consensus():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    a = _answered(sample, "awe")
    early = _change(sample, a, "fear")  # one answer of two: nothing to settle yet
    assert early.decision is None and not early.conflict
    b = _answered(sample, "awe")  # the k-th answer disagrees: waits for an adjudicator
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.DISPUTED
    still = _change(sample, b, "sadness")
    assert still.decision is None and still.conflict
    agreed = _change(sample, b, "fear", confidence=6.0)
    assert agreed.decision is not None and agreed.decision.method == "consensus"
    assert (agreed.decision.emotion, agreed.decision.confidence) == ("fear", 7.0)
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    with pytest.raises(AnswerFinal):
        _change(sample, a, "awe")  # a consensus is final


def test_k2_no_change_while_an_adjudicator_resolves_the_sample():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    a = _answered(sample, "awe")
    _answered(sample, "fear")
    lease(sample, member(ADJUDICATOR), kind=Assignment.Kind.ADJUDICATE)
    with pytest.raises(AnswerFinal, match="adjudicator is resolving"):
        _change(sample, a, "fear")


def test_gold_answers_change_but_never_make_a_label():
    sample = SampleFactory.create(
        dataset=DatasetFactory.create(overlap_k=1), gold_emotion="awe", status="agreed"
    )
    person = _answered(sample, "fear")
    outcome = _change(sample, person, "awe")
    assert outcome.decision is None
    assert not Adjudication.objects.filter(sample=sample).exists()
    assert Annotation.objects.get(sample=sample).emotion == "awe"


def test_only_own_answers_given_here_can_change():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    with pytest.raises(ValidationError, match="not answered"):
        _change(sample, member(ANNOTATOR), "fear")
    imported = member(ANNOTATOR)
    answer(sample, imported, "awe", source=Annotation.Source.IMPORT)
    with pytest.raises(AnswerFinal, match="imported"):
        _change(sample, imported, "fear")


def test_a_bad_label_is_refused_before_anything_is_read():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    person = _answered(sample, "awe")
    with pytest.raises(ValidationError) as error:
        _change(sample, person, "joy", confidence=11.0)
    assert set(error.value.message_dict) == {"emotion", "confidence"}
    assert Annotation.objects.get(sample=sample).emotion == "awe"
