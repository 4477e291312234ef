"""Shapes and field names, without a database or files."""

from __future__ import annotations

import pytest

from annotator.importers.issues import LineReport
from annotator.importers.records import ParseContext, ParsedRecord, parse_record
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS

CTX = ParseContext(labels=MIKELS_8_LABELS, taxonomy=MIKELS_8, default_model="emoverse")


def parse(obj: object) -> tuple[ParsedRecord | None, list[str]]:
    report = LineReport(path="samples.jsonl", line=7)
    record = parse_record(obj, ctx=CTX, report=report)
    return record, [str(issue) for issue in report.issues]


def test_old_emoverse_names_become_the_proposal_fields():
    record, issues = parse(
        {
            "id": 17,
            "image_path": "a.jpg",
            "analysis": "Waves crash on rocks.",
            "emotion": "Fear",
            "intensity": "6",
            "background": "stormy sea",
            "adjective": "menacing",
            "noun": "waves",
        }
    )
    assert issues == []
    assert record is not None and record.external_id == "17"
    [p] = record.proposals
    assert (p.model_name, p.description, p.emotion, p.confidence) == (
        "emoverse",
        "Waves crash on rocks.",
        "fear",
        6.0,
    )
    assert (p.background, p.attribute, p.subject) == ("stormy sea", "menacing", "waves")


def test_current_names_win_over_old_ones():
    record, issues = parse(
        {"id": "x", "image_path": "a.jpg", "emotion": "awe", "attribute": "new", "adjective": "old"}
    )
    assert issues == [] and record is not None
    assert record.proposals[0].attribute == "new"


def test_separate_fields_win_over_bas_and_the_string_fills_only_absent_ones():
    base = {"id": "x", "image_path": "a.jpg", "emotion": "awe", "B-A-S": "person - calm - beach"}
    record, issues = parse(
        {**base, "background": "beach", "attribute": "calm", "subject": "person"}
    )
    p = record.proposals[0] if record else None
    assert issues == [] and p is not None
    assert (p.background, p.attribute, p.subject) == ("beach", "calm", "person")

    record, issues = parse({**base, "subject": "surfer"})
    p = record.proposals[0] if record else None
    assert issues == [] and p is not None
    assert (p.background, p.attribute, p.subject) == ("person", "calm", "surfer")


def test_bas_is_not_checked_when_every_separate_field_is_present():
    _, issues = parse(
        {
            "id": "x",
            "image_path": "a.jpg",
            "emotion": "awe",
            "background": "b",
            "attribute": "a",
            "subject": "s",
            "B-A-S": "unsplittable",
        }
    )
    assert issues == []


def test_id_and_image_path_alone_is_a_sample_awaiting_the_pipeline():
    record, issues = parse({"id": "p1", "image_path": "./sub/a.jpg", "source": "web"})
    assert issues == []
    assert record == ParsedRecord("p1", "sub/a.jpg", "web", None, (), None)


def test_proposals_keep_their_own_object_as_raw_and_emoverse_records_drop_des():
    raw = {"model": "m1", "emotion": "awe", "mask_path": "masks/x.png", "extra": 1}
    record, issues = parse({"id": "x", "image_path": "a.jpg", "proposals": [raw]})
    assert issues == [] and record is not None and record.proposals[0].raw == raw

    record, issues = parse(
        {"id": "x", "image_path": "a.jpg", "emotion": "awe", "mask_path": "m.png", "DES": None}
    )
    assert issues == [] and record is not None
    assert record.proposals[0].raw == {
        "id": "x",
        "image_path": "a.jpg",
        "emotion": "awe",
        "mask_path": "m.png",
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([1, 2], "samples.jsonl:7: line: must be a JSON object, not an array"),
        ({"image_path": "a.jpg"}, "samples.jsonl:7: id: missing"),
        ({"id": "x"}, "samples.jsonl:7: image_path: missing"),
        (
            {"id": "x", "image": "a.jpg"},
            'samples.jsonl:7: image_path: missing (the line has "image": name it image_path)',
        ),
        (
            {"id": "x", "imagepath": "a.jpg"},
            'image_path: missing (the line has "imagepath": name it image_path)',
        ),
        (
            {"image_id": 7, "image_path": "a.jpg"},
            'samples.jsonl:7: id: missing (the line has "image_id": name it id)',
        ),
        ({"id": True, "image_path": "a.jpg"}, "id: must be a string or an integer, not a boolean"),
        ({"id": "x", "image_path": "/etc/passwd"}, "image_path: '/etc/passwd' is absolute"),
        ({"id": "x", "image_path": "C:\\img.jpg"}, "image_path: 'C:\\\\img.jpg' is absolute"),
        ({"id": "x", "image_path": "a/../../b.jpg"}, "image_path: 'a/../../b.jpg' contains '..'"),
        (
            {"id": "x", "image_path": "a.jpg", "emotion": "happy"},
            "samples.jsonl:7: emotion: 'happy' is not in taxonomy mikels8 (amusement, awe, "
            "contentment, excitement, anger, disgust, fear, sadness)",
        ),
        ({"id": "x", "image_path": "a.jpg", "intensity": 5}, "samples.jsonl:7: emotion: missing"),
        (
            {"id": "x", "image_path": "a.jpg", "proposals": [{"emotion": "awe"}]},
            "samples.jsonl:7: proposals[0].model: missing",
        ),
        (
            {"id": "x", "image_path": "a.jpg", "proposals": [{"model": "m", "emotion": "awe"}] * 2},
            "proposals[1].model: 'm' appears twice in this sample's proposals",
        ),
        (
            {"id": "x", "image_path": "a.jpg", "proposals": [], "emotion": "awe"},
            "proposals: cannot be combined with top-level emotion",
        ),
        (
            {"id": "x", "image_path": "a.jpg", "critic": {"verdict": "keep"}},
            "critic.verdict: 'keep' is not a critic verdict (preserve, revise, drop)",
        ),
        ({"id": "x", "image_path": "a.jpg", "critic": {}}, "critic.verdict: missing"),
        ({"id": "x", "image_path": "a.jpg", "source": "s" * 65}, "source: is longer than 64"),
    ],
)
def test_problems_name_line_and_field(obj, expected):
    _, issues = parse(obj)
    assert any(expected in issue for issue in issues), issues


def test_every_problem_of_a_line_is_reported():
    _, issues = parse(
        {"image_path": "a.jpg", "emotion": "happy", "confidence": 12, "critic": {"verdict": "x"}}
    )
    fields = [issue.split(": ")[1] for issue in issues]
    assert fields == ["id", "emotion", "confidence", "critic.verdict"]
