"""Blind to machines: the first answer is kept, the final one goes through submit_answer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from review.labels import Label
from review.models import Adjudication, Annotation, Assignment, AuditEvent, BlindAnswer, Draft
from review.services.blind_answers import BLIND_ANSWER, commit_blind_answer, submit_final_answer
from review.services.drafts import save_draft
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    dataset = DatasetFactory.create(overlap_k=1, machine_blind=True)
    s = SampleFactory.create(dataset=dataset, suggested_emotion="awe")
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe")
    return s


def test_a_commit_keeps_the_blind_answer_and_the_suggestion_it_is_measured_against(
    sample, annotator
):
    lease(sample, annotator)
    save_draft(sample=sample, author=annotator, data={"emotion": "fear"})
    blind = commit_blind_answer(
        sample=sample,
        annotator=annotator,
        label=Label(emotion="Fear", confidence=6.5, subject=" dog "),
    )
    assert (blind.emotion, blind.confidence, blind.subject) == ("fear", 6.5, "dog")
    assert blind.suggested_emotion == "awe"
    assert not Draft.objects.exists()  # the revealed form starts from the blind answer
    event = AuditEvent.objects.get(action=BLIND_ANSWER)
    assert event.actor == annotator and (event.after or {}).get("emotion") == "fear"
    assert not Annotation.objects.exists()  # nothing final yet


def test_a_second_commit_keeps_the_first_blind_answer(sample, annotator):
    lease(sample, annotator)
    commit_blind_answer(
        sample=sample, annotator=annotator, label=Label(emotion="fear", confidence=6)
    )
    again = commit_blind_answer(
        sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=9)
    )
    assert (again.emotion, again.confidence) == ("fear", 6)
    assert BlindAnswer.objects.count() == 1
    assert AuditEvent.objects.filter(action=BLIND_ANSWER).count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"emotion": "joy", "confidence": 5}, "emotion"),
        ({"emotion": "awe", "confidence": None}, "confidence"),
    ],
)
def test_an_invalid_commit_writes_nothing(sample, annotator, fields, field):
    lease(sample, annotator)
    with pytest.raises(ValidationError) as error:
        commit_blind_answer(sample=sample, annotator=annotator, label=Label(**fields))
    assert field in error.value.message_dict
    assert not BlindAnswer.objects.exists()


def test_a_commit_needs_a_blind_dataset_an_open_lease_and_no_answer_yet(sample, annotator):
    with pytest.raises(ValidationError, match="not assigned to you"):
        commit_blind_answer(
            sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=5)
        )
    lease(sample, annotator, status=Assignment.Status.SKIPPED)
    with pytest.raises(ValidationError, match="not assigned to you"):
        commit_blind_answer(
            sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=5)
        )
    Assignment.objects.update(status=Assignment.Status.ACTIVE)
    Annotation.objects.create(sample=sample, annotator=annotator, emotion="awe", confidence=5)
    with pytest.raises(ValidationError, match="already answered"):
        commit_blind_answer(
            sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=5)
        )
    sample.dataset.machine_blind = False
    with pytest.raises(ValidationError, match="from the start"):
        commit_blind_answer(
            sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=5)
        )
    assert not BlindAnswer.objects.exists()


def test_the_final_answer_after_a_commit_is_submit_answer_and_both_are_kept(sample, annotator):
    lease(sample, annotator)
    commit_blind_answer(
        sample=sample, annotator=annotator, label=Label(emotion="fear", confidence=6)
    )
    outcome = submit_final_answer(
        sample=sample,
        annotator=annotator,
        label=Label(emotion="awe", confidence=8),
        base_version=0,
    )
    assert outcome.decision is not None and outcome.decision.emotion == "awe"  # k = 1: final
    blind = BlindAnswer.objects.get()
    final = Annotation.objects.get()
    assert (blind.emotion, final.emotion) == ("fear", "awe")
    assert Adjudication.objects.get().method == Adjudication.Method.PERSON


def test_a_final_answer_never_committed_blind_is_kept_as_the_blind_answer_too(sample, annotator):
    lease(sample, annotator)
    submit_final_answer(
        sample=sample, annotator=annotator, label=Label(emotion="sadness", confidence=4)
    )
    blind = BlindAnswer.objects.get()
    assert (blind.emotion, blind.confidence, blind.suggested_emotion) == ("sadness", 4, "awe")


def test_a_final_answer_on_a_dataset_that_is_not_blind_keeps_no_blind_answer(annotator):
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    lease(sample, annotator)
    submit_final_answer(
        sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=4)
    )
    assert Annotation.objects.count() == 1 and not BlindAnswer.objects.exists()


def test_a_refused_final_answer_writes_no_blind_answer(sample, annotator):
    with pytest.raises(ValidationError):
        submit_final_answer(
            sample=sample, annotator=annotator, label=Label(emotion="awe", confidence=4)
        )
    assert not BlindAnswer.objects.exists() and not Annotation.objects.exists()
