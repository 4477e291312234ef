"""The export says how each final label was decided and by whom (issue 5)."""

from __future__ import annotations

import pytest

from annotator.models import Sample
from review.labels import Label
from review.roles import ADJUDICATOR, ANNOTATOR
from review.selectors.export import SCOPE_DECIDED
from review.services.adjudication import adjudicate_sample, undo_last_decision
from review.services.consensus import submit_answer
from review.services.export import iter_export_batches
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db


def _rows(ds) -> dict[str, dict]:
    return {
        str(row["external_id"]): row
        for batch in iter_export_batches(dataset=ds, scope=SCOPE_DECIDED)
        for row in batch
    }


def _answer(sample, person, emotion):
    lease(sample, person)
    submit_answer(sample=sample, annotator=person, label=Label(emotion=emotion, confidence=8.0))


def test_decided_by_is_consensus_or_adjudicator_with_the_people():
    ds = DatasetFactory.create(overlap_k=2)
    agreed = SampleFactory.create(dataset=ds, external_id="agreed-by-people")
    split = SampleFactory.create(dataset=ds, external_id="split")
    ana, bea = member(ANNOTATOR, username="ana"), member(ANNOTATOR, username="bea")
    for sample, emotions in ((agreed, ("awe", "awe")), (split, ("awe", "fear"))):
        _answer(sample, ana, emotions[0])
        _answer(sample, bea, emotions[1])
    assert "split" not in _rows(ds)  # waiting for an adjudicator: no final label yet
    judge = member(ADJUDICATOR, username="judge")
    adjudicate_sample(
        sample=split,
        annotator=judge,
        label=Label(emotion="fear", confidence=6.0),
        base_version=0,
    )
    rows = _rows(ds)
    assert (rows["agreed-by-people"]["decided_by"], rows["agreed-by-people"]["annotator"]) == (
        "consensus",
        "ana;bea",
    )
    assert (rows["split"]["decided_by"], rows["split"]["annotator"]) == ("adjudicator", "judge")
    assert rows["split"]["emotion"] == "fear"


def test_an_undone_version_is_not_exported():
    ds = DatasetFactory.create(overlap_k=1)
    sample = SampleFactory.create(dataset=ds, external_id="s")
    judge = member(ADJUDICATOR, username="judge")
    for base, emotion in ((0, "awe"), (1, "fear")):
        adjudicate_sample(
            sample=sample,
            annotator=judge,
            label=Label(emotion=emotion, confidence=5.0),
            base_version=base,
        )
    undo_last_decision(sample=sample, actor=judge, version=2)
    assert _rows(ds)["s"]["emotion"] == "awe"
    undo_last_decision(sample=sample, actor=judge, version=1)
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.DISPUTED
    assert "s" not in _rows(ds)
