"""Sample-page selectors: comparison, draft from the weighted vote, boxes, image path."""

from __future__ import annotations

import pytest

from annotator.models import Proposal, Region
from review.selectors.samples import (
    adjudication_draft,
    describe_dispute_reasons,
    proposal_comparison,
    region_boxes,
    sample_image_path,
)
from tests.factories import DatasetFactory, SampleFactory


def _p(name: str, **fields) -> Proposal:
    defaults = {"emotion": "awe", "confidence": 7.0, "subject": "person", "description": "d"}
    return Proposal(model_name=name, **{**defaults, **fields})


def test_comparison_marks_the_odd_one_out():
    rows = proposal_comparison(proposals=[_p("a"), _p("b", emotion="fear"), _p("c")])
    emotion = next(r for r in rows if r.field == "emotion")
    assert emotion.differs and [c.differs for c in emotion.cells] == [False, True, False]
    assert [c.value for c in emotion.cells] == ["awe", "fear", "awe"]


def test_comparison_marks_every_cell_of_a_tie_and_ignores_case_and_spaces():
    rows = {
        r.field: r
        for r in proposal_comparison(
            proposals=[
                _p("a", subject="Person "),
                _p("b", subject="person"),
                _p("c", confidence=None),
            ]
        )
    }
    assert not rows["subject"].differs
    confidence = rows["confidence"]
    assert [c.value for c in confidence.cells] == ["7", "7", ""]
    assert not confidence.differs  # a blank is not a disagreement
    tie = {r.field: r for r in proposal_comparison(proposals=[_p("a"), _p("b", emotion="fear")])}
    assert [c.differs for c in tie["emotion"].cells] == [True, True]


@pytest.mark.django_db
def test_draft_takes_mean_confidence_and_best_weighted_triplet():
    sample = SampleFactory.create(
        dataset=DatasetFactory.create(model_weights={"heavy": 3.0}), suggested_emotion="awe"
    )
    proposals = [
        _p("alpha", confidence=5.0, subject="alpha-subject"),
        _p("heavy", confidence=8.0, subject="heavy-subject", background="sky"),
        _p("zeta", emotion="fear", confidence=1.0, subject="zeta-subject"),
        _p("beta", confidence=None, subject="beta-subject"),
    ]
    draft = adjudication_draft(sample=sample, proposals=proposals)
    assert draft == {
        "emotion": "awe",
        "confidence": 6.5,
        "background": "sky",
        "attribute": "",
        "subject": "heavy-subject",
    }


@pytest.mark.django_db
def test_draft_ties_go_to_the_first_model_name_and_no_suggestion_gives_no_triplet():
    sample = SampleFactory.create(suggested_emotion="awe")
    draft = adjudication_draft(
        sample=sample, proposals=[_p("b", subject="B"), _p("a", subject="A")]
    )
    assert draft["subject"] == "A"
    sample.suggested_emotion = ""
    assert adjudication_draft(sample=sample, proposals=[_p("a")]) == {"emotion": ""}


def test_region_boxes_normalise_clip_and_order_by_role():
    regions = [
        Region(pk=1, role="subject", phrase="dog", x1=50, y1=40, x2=10, y2=-5),
        Region(pk=2, role="background", phrase="park", x1=0, y1=0, x2=200, y2=100),
        Region(pk=3, role="attribute", phrase="happy"),  # no box
    ]
    boxes = region_boxes(regions=regions, width=100, height=50)
    assert [(b.role, b.x, b.y, b.width, b.height) for b in boxes] == [
        ("background", 0, 0, 100, 50),
        ("subject", 10, 0, 40, 40),
    ]
    assert (boxes[1].left_pct, boxes[1].top_pct, boxes[1].bottom_pct) == (10.0, 0.0, 20.0)


def test_dispute_reasons_read_as_sentences():
    lines = describe_dispute_reasons(
        reasons=[
            {"type": "label_mismatch", "models": {"a": "awe"}},
            {"type": "low_margin", "margin": 0.1},
            "raw",
        ]
    )
    assert lines == ["Label mismatch: a → awe", "Low margin: margin: 0.1", "raw"]


@pytest.mark.django_db
def test_image_path_stays_inside_the_root(images_root):
    ds = DatasetFactory.create(images_root=str(images_root))
    assert (
        sample_image_path(sample=SampleFactory.create(dataset=ds, image_path="a.jpg"))
        == (images_root / "a.jpg").resolve()
    )
    for bad in ["../a.jpg", str(images_root / ".." / "x.jpg"), "nope.jpg", ""]:
        assert sample_image_path(sample=SampleFactory.create(dataset=ds, image_path=bad)) is None
    assert sample_image_path(sample=SampleFactory.create(image_path="a.jpg")) is None  # no root set


def test_comparison_ignores_blank_values_of_a_classifier():
    classifier = _p("emovit", description="", subject="", confidence=None)
    rows = {r.field: r for r in proposal_comparison(proposals=[classifier, _p("a"), _p("b")])}
    assert not rows["subject"].differs and not rows["confidence"].differs
    assert [c.differs for c in rows["subject"].cells] == [False, False, False]


@pytest.mark.django_db
def test_draft_prefers_a_model_that_gave_a_triplet_over_a_classifier():
    sample = SampleFactory.create(suggested_emotion="awe")
    classifier = _p("emovit", background="", attribute="", subject="", description="")
    draft = adjudication_draft(sample=sample, proposals=[classifier, _p("gpt", subject="hiker")])
    assert draft["subject"] == "hiker"


def test_labels_of_boxes_sharing_a_corner_are_stacked():
    regions = [
        Region(pk=1, role="subject", phrase="tabby cat", x1=2, y1=2, x2=90, y2=90),
        Region(pk=2, role="subject", phrase="cat", x1=3, y1=3, x2=98, y2=95),
        Region(pk=3, role="subject", phrase="ear", x1=60, y1=5, x2=70, y2=15),
        Region(pk=4, role="attribute", phrase="calm", x1=2, y1=2, x2=50, y2=50),
    ]
    boxes = region_boxes(regions=regions, width=100, height=100)
    assert [(b.phrase, b.stack) for b in boxes] == [
        ("calm", 0),
        ("tabby cat", 0),
        ("cat", 1),
        ("ear", 0),
    ]


@pytest.mark.django_db
def test_a_tied_vote_fills_in_nothing_for_the_person():
    """The suggestion of a tie is only the first name in order: the form starts empty."""
    sample = SampleFactory.create(suggested_emotion="awe", vote_margin=0.0)
    assert adjudication_draft(sample=sample, proposals=[_p("a"), _p("b", emotion="fear")]) == {
        "emotion": ""
    }
