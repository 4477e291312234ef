"""Versioned final labels: N+1 on top of N, conflicts instead of overwrites, undo."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotator.models import Sample
from review.labels import Label
from review.models import Adjudication, AuditEvent
from review.roles import ADJUDICATOR
from review.selectors.samples import current_adjudication
from review.services.adjudication import VersionConflict, adjudicate_sample, undo_last_decision
from tests.factories import AdminFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def _decide(sample, person, emotion, base_version):
    return adjudicate_sample(
        sample=sample,
        annotator=person,
        label=Label(emotion=emotion, confidence=7.0),
        base_version=base_version,
    )


def test_each_save_is_a_new_version_by_its_adjudicator():
    sample = SampleFactory.create()
    a, b = member(ADJUDICATOR), member(ADJUDICATOR)
    v1 = _decide(sample, a, "awe", 0)
    v2 = _decide(sample, b, "fear", 1)
    assert (v1.version, v2.version, v2.method) == (1, 2, "adjudicator")
    assert current_adjudication(sample=sample) == v2
    event = AuditEvent.objects.filter(sample=sample, action="decide").first()
    assert event is not None and event.actor == b
    assert event.before is not None and event.after is not None
    assert (event.before["emotion"], event.after["emotion"]) == ("awe", "fear")


def test_a_save_against_an_older_version_is_refused_with_their_version():
    sample = SampleFactory.create()
    a, b = member(ADJUDICATOR), member(ADJUDICATOR)
    _decide(sample, a, "awe", 0)
    with pytest.raises(VersionConflict) as info:
        _decide(sample, b, "fear", 0)  # b opened the page before a saved
    assert info.value.theirs is not None and info.value.theirs.emotion == "awe"
    assert info.value.yours.emotion == "fear" and "version 1" in str(info.value)
    assert Adjudication.objects.count() == 1


def test_undo_restores_the_previous_version_and_then_the_earlier_status():
    sample = SampleFactory.create(status=Sample.Status.DISPUTED)
    a = member(ADJUDICATOR)
    _decide(sample, a, "awe", 0)
    _decide(sample, a, "fear", 1)
    restored = undo_last_decision(sample=sample, actor=a, version=2)
    assert restored is not None and restored.emotion == "awe"
    assert Adjudication.objects.get(version=2).reverted
    assert undo_last_decision(sample=sample, actor=a, version=1) is None
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DISPUTED
    assert AuditEvent.objects.filter(sample=sample, action="undo").count() == 2
    # The next save after undos takes a fresh number; the old ones stay in history.
    assert _decide(sample, a, "sadness", 0).version == 3


def test_undo_without_a_decision_is_refused():
    with pytest.raises(ValidationError, match="no decision"):
        undo_last_decision(sample=SampleFactory.create(), actor=AdminFactory(), version=1)


def test_only_the_author_or_an_admin_may_undo():
    sample = SampleFactory.create()
    author, other = member(ADJUDICATOR), member(ADJUDICATOR)
    _decide(sample, author, "awe", 0)
    with pytest.raises(PermissionDenied):
        undo_last_decision(sample=sample, actor=other, version=1)
    assert undo_last_decision(sample=sample, actor=AdminFactory(), version=1) is None


def test_undo_of_a_version_that_is_no_longer_current_is_a_conflict():
    sample = SampleFactory.create()
    a = member(ADJUDICATOR)
    _decide(sample, a, "awe", 0)
    _decide(sample, a, "fear", 1)
    with pytest.raises(VersionConflict):
        undo_last_decision(sample=sample, actor=a, version=1)
    assert not Adjudication.objects.filter(reverted=True).exists()


def test_an_admins_undo_of_the_version_they_saw_never_reverts_a_later_label():
    """An admin opened version 1; another adjudicator saved version 2 meanwhile: the admin's
    undo names version 1 and is refused, version 2 stays (an undo always names a version)."""
    sample = SampleFactory.create()
    first, second = member(ADJUDICATOR), member(ADJUDICATOR)
    _decide(sample, first, "awe", 0)
    _decide(sample, second, "fear", 1)
    with pytest.raises(VersionConflict) as info:
        undo_last_decision(sample=sample, actor=AdminFactory(), version=1)
    assert info.value.theirs is not None and info.value.theirs.version == 2
    assert "version 2" in str(info.value)
    assert not Adjudication.objects.filter(reverted=True).exists()
    with pytest.raises(TypeError):  # no undo without the version the person saw
        undo_last_decision(sample=sample, actor=AdminFactory())  # type: ignore[call-arg]
