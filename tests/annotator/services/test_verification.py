from __future__ import annotations

import pytest

from annotator.models import CriticVerdict, Sample
from annotator.services.verification import Vote, cross_verify, verify_sample
from annotator.taxonomy import MIKELS_8_LABELS
from tests.factories import CriticVerdictFactory, ProposalFactory, SampleFactory

L = MIKELS_8_LABELS


def test_unanimous_votes_agree_with_full_margin():
    result = cross_verify(
        votes=[Vote("gpt-4o", "awe"), Vote("gemini", "awe")], weights={}, labels=L
    )
    assert (result.status, result.suggested_emotion, result.margin) == ("agreed", "awe", 1.0)
    assert result.reasons == []


def test_single_proposal_counts_as_agreed():
    result = cross_verify(votes=[Vote("emoverse", "fear")], weights={}, labels=L)
    assert result.status == "agreed" and result.suggested_emotion == "fear"


def test_no_votes_leave_the_sample_pending():
    result = cross_verify(votes=[], weights={}, labels=L)
    assert result.status == "pending" and result.margin is None


def test_weights_pick_the_suggestion_and_reasons_name_the_models():
    votes = [Vote("gpt-4o", "awe"), Vote("gemini", "fear"), Vote("emovit", "fear")]
    result = cross_verify(votes=votes, weights={"gpt-4o": 3.0}, labels=L)
    assert result.status == "disputed"
    assert result.suggested_emotion == "awe"
    assert result.margin == pytest.approx((3 - 2) / 5)
    assert result.reasons == [
        {"type": "label_mismatch", "models": {"emovit": "fear", "gemini": "fear", "gpt-4o": "awe"}}
    ]


def test_ties_break_by_taxonomy_order_whatever_the_vote_order():
    a = cross_verify(votes=[Vote("m1", "sadness"), Vote("m2", "awe")], weights={}, labels=L)
    b = cross_verify(votes=[Vote("m2", "awe"), Vote("m1", "sadness")], weights={}, labels=L)
    assert a == b
    assert a.suggested_emotion == "awe" and a.margin == 0.0


@pytest.mark.django_db
def test_verify_sample_stores_dispute_and_drop():
    sample = SampleFactory.create(status=Sample.Status.PENDING, suggested_emotion="")
    ProposalFactory.create(sample=sample, model_name="a", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="b", emotion="fear")
    verify_sample(sample=sample)
    sample.refresh_from_db()
    assert sample.status == "disputed" and sample.dispute_reasons[0]["type"] == "label_mismatch"

    CriticVerdictFactory.create(sample=sample, verdict=CriticVerdict.Verdict.DROP)
    verify_sample(sample=sample)
    sample.refresh_from_db()
    assert sample.status == "dropped"


@pytest.mark.django_db
def test_preserve_verdict_sets_suggestion_and_adjudicated_is_kept():
    sample = SampleFactory.create(status=Sample.Status.ADJUDICATED)
    ProposalFactory.create(sample=sample, model_name="a", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="b", emotion="fear")
    CriticVerdictFactory.create(sample=sample, verdict="preserve", emotion="fear")
    verify_sample(sample=sample)
    sample.refresh_from_db()
    assert sample.status == "adjudicated" and sample.suggested_emotion == "fear"
