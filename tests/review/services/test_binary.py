"""EmoNet-Face's binary protocol: a second and third vote only when the rule needs them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Sample
from review.models import Adjudication, AuditEvent, BinaryVote
from review.roles import ANNOTATOR
from review.selectors.assignment import needs_adjudication
from review.services.assignment import lease_next_sample
from review.services.binary import (
    BinaryProtocol,
    binary_protocol,
    needs_another_vote,
    open_questions,
    submit_binary_votes,
)
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db
EMONET: dict[str, Any] = {"max_votes": 3, "second_when": "yes", "third_when": "split"}


@pytest.mark.parametrize(
    ("votes", "needed"),
    [
        ([], True),
        ([False], False),  # a first "no" settles it
        ([True], True),  # a first "yes" asks a second expert
        ([True, True], False),
        ([True, False], True),  # split: a third
        ([True, False, True], False),
    ],
)
def test_emonet_rule(votes, needed):
    assert needs_another_vote(votes=votes, protocol=BinaryProtocol(**EMONET)) is needed


def test_other_rules_and_the_cap():
    always = BinaryProtocol(max_votes=2, second_when="always", third_when="always")
    assert needs_another_vote(votes=[False], protocol=always)
    assert not needs_another_vote(votes=[False, False], protocol=always)  # max_votes
    never = BinaryProtocol(second_when="never")
    assert not needs_another_vote(votes=[True], protocol=never)


def test_a_bad_rule_is_named():
    ds = DatasetFactory.create(binary_protocol={"second_when": "maybe"})
    with pytest.raises(ValidationError, match="second_when"):
        binary_protocol(dataset=ds)


@pytest.fixture
def sample():
    ds = DatasetFactory.create(binary_protocol=EMONET)
    s = SampleFactory.create(dataset=ds, suggested_emotion="awe")
    ProposalFactory.create(sample=s, emotion="awe")
    ProposalFactory.create(sample=s, emotion="fear")
    return s


def _vote(sample, **answers):
    person = member(ANNOTATOR)
    got = lease_next_sample(user=person)
    assert got is not None and got.sample == sample
    return person, submit_binary_votes(sample=sample, annotator=person, answers=answers)


def test_questions_are_the_proposed_emotions_and_follow_the_votes(sample):
    protocol = binary_protocol(dataset=sample.dataset)
    assert protocol is not None
    assert open_questions(sample=sample, protocol=protocol) == ["awe", "fear"]
    _vote(sample, awe=True, fear=False)
    assert open_questions(sample=sample, protocol=protocol) == ["awe"]  # fear settled "no"
    _, decided = _vote(sample, awe=True)
    assert decided is not None and decided.method == Adjudication.Method.CONSENSUS
    assert (decided.emotion, decided.confidence) == ("awe", 10.0)
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED
    assert lease_next_sample(user=member(ANNOTATOR)) is None  # nothing left to ask


def test_one_voter_at_a_time_and_never_twice(sample):
    first = member(ANNOTATOR)
    assert lease_next_sample(user=first) is not None
    assert lease_next_sample(user=member(ANNOTATOR)) is None  # the next depends on this vote
    submit_binary_votes(sample=sample, annotator=first, answers={"awe": True, "fear": False})
    assert lease_next_sample(user=first) is None


def test_votes_must_answer_exactly_the_open_questions(sample):
    person = member(ANNOTATOR)
    with pytest.raises(ValidationError, match="missing: fear"):
        submit_binary_votes(sample=sample, annotator=person, answers={"awe": True})
    assert not BinaryVote.objects.exists()


def test_no_single_present_emotion_goes_to_an_adjudicator(sample):
    _vote(sample, awe=False, fear=False)
    assert list(needs_adjudication()) == [sample]
    assert AuditEvent.objects.filter(sample=sample, action="conflict").exists()
