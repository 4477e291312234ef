"""Anchoring figures: blind first answers against final ones, per person and in total."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from review.models import Annotation, BlindAnswer
from review.selectors.anchoring import anchoring
from review.selectors.audit_query import AuditFilters
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def both(sample, person, blind, final, *, blind_conf=5.0, final_conf=7.0, suggested="awe"):
    BlindAnswer.objects.create(
        sample=sample, annotator=person, emotion=blind, confidence=blind_conf,
        suggested_emotion=suggested,
    )  # fmt: skip
    Annotation.objects.create(sample=sample, annotator=person, emotion=final, confidence=final_conf)


@pytest.fixture
def dataset():
    return DatasetFactory.create(machine_blind=True)


def test_changes_toward_and_away_from_the_machines_are_counted(dataset):
    ana, bea = member(username="ana"), member(username="bea")
    s1, s2, s3, s4 = (SampleFactory.create(dataset=dataset) for _ in range(4))
    both(s1, ana, "fear", "awe")  # moved to the machines
    both(s2, ana, "awe", "awe", blind_conf=6, final_conf=6)  # agreed from the start
    both(s3, bea, "awe", "fear", final_conf=3)  # moved away from them
    both(s4, bea, "fear", "sadness", suggested="")  # changed; no suggestion to move to
    figures = anchoring(filters=AuditFilters(dataset=dataset))
    total = figures.total
    assert (total.answers, total.changed) == (4, 3)
    assert (total.toward_machines, total.away_from_machines) == (1, 1)
    assert (total.blind_as_machines, total.final_as_machines) == (2, 2)
    assert total.confidence_change == pytest.approx((2 + 0 - 2 + 2) / 4)
    assert total.share(total.changed) == 0.75
    people = {row.annotator: row for row in figures.people}
    assert (people["ana"].changed, people["ana"].toward_machines) == (1, 1)
    assert (people["bea"].changed, people["bea"].away_from_machines) == (2, 1)
    json = figures.as_json()
    assert json["total"]["changed_share"] == 0.75 and len(json["people"]) == 2


def test_answers_without_a_blind_one_other_datasets_and_sources_are_left_out(dataset):
    person = member(username="cy")
    Annotation.objects.create(
        sample=SampleFactory.create(dataset=dataset), annotator=person, emotion="awe", confidence=5
    )
    both(SampleFactory.create(), person, "fear", "awe")  # another dataset
    both(SampleFactory.create(dataset=dataset, source="FI"), person, "fear", "awe")
    assert anchoring(filters=AuditFilters(dataset=dataset)).total.answers == 1
    assert anchoring(filters=AuditFilters(dataset=dataset, source="EmoSet")).total.answers == 0
    tomorrow = date.today() + timedelta(days=1)
    assert anchoring(filters=AuditFilters(dataset=dataset, since=tomorrow)).total.answers == 0


def test_no_blind_answers_gives_empty_figures(dataset):
    figures = anchoring(filters=AuditFilters(dataset=dataset))
    assert figures.people == [] and figures.total.answers == 0
    assert figures.total.share(0) is None and figures.total.confidence_change is None
