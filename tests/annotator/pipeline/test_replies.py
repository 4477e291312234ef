from __future__ import annotations

import json

import pytest

from annotator.pipeline.replies import (
    annotation_schema,
    critic_schema,
    load_json_object,
    parse_annotation,
    parse_critic,
)
from annotator.taxonomy import MIKELS_8_LABELS as LABELS
from tests.support.openai_server import annotation_content, critic_content


def annotate(content, size=(1000, 500)):
    text = content if isinstance(content, str) else json.dumps(content)
    return parse_annotation(text, labels=LABELS, image_size=size)


def test_a_valid_annotation_is_cleaned():
    value, problems = annotate(
        annotation_content(emotion=" AWE ", confidence=7, subject=" person ")
    )
    assert problems == []
    assert value is not None
    assert (value["emotion"], value["confidence"], value["subject"]) == ("awe", 7.0, "person")
    assert value["boxes"] is None


def test_boxes_come_back_in_pixels_of_the_original_image():
    boxes = [{"phrase": "person", "box": [0.1, 0.2, 0.5, 1]}]
    value, problems = annotate(annotation_content(boxes=boxes), size=(1000, 500))
    assert problems == []
    assert value is not None
    assert value["boxes"] == [{"phrase": "person", "box": [100.0, 100.0, 500.0, 500.0]}]


@pytest.mark.parametrize(
    "text",
    [
        "```json\n" + json.dumps(annotation_content()) + "\n```",
        "Here is my answer:\n" + json.dumps(annotation_content()) + "\nHope it helps.",
    ],
)
def test_a_fenced_or_wrapped_object_is_accepted(text):
    value, problems = annotate(text)
    assert problems == [] and value is not None and value["emotion"] == "awe"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"emotion": "joy"}, '"emotion" must be one of: amusement, awe, contentment'),
        ({"emotion": None}, '"emotion" must be one of'),
        ({"confidence": 11}, '"confidence" must be a number from 0 to 10 (got 11)'),
        ({"confidence": "high"}, '"confidence" must be a number from 0 to 10'),
        ({"confidence": True}, '"confidence" must be a number from 0 to 10'),
        ({"confidence": None}, '"confidence" must be a number from 0 to 10'),
    ],
)
def test_required_fields_are_named_for_the_repair_prompt(overrides, expected):
    value, problems = annotate(annotation_content(**overrides))
    assert value is None
    assert len(problems) == 1 and problems[0].startswith(expected)


def test_a_confidence_written_as_text_is_read():
    value, problems = annotate(annotation_content(confidence=" 7.5 "))
    assert problems == [] and value is not None and value["confidence"] == 7.5


@pytest.mark.parametrize(
    ("overrides", "unknown"),
    [
        ({"background": "  "}, ["background"]),
        ({"subject": None}, ["subject"]),
        ({"attribute": "x" * 301}, ["attribute"]),
        ({"description": 3}, ["description"]),
        ({"boxes": [{"phrase": "p", "box": [0.5, 0.1, 0.2, 0.9]}]}, ["boxes[0]"]),
        ({"boxes": [{"phrase": "p", "box": [10, 20, 300, 400]}]}, ["boxes[0]"]),
        ({"boxes": [{"box": [0, 0, 1, 1]}]}, ["boxes[0]"]),
        ({"boxes": "person"}, ["boxes"]),
    ],
)
def test_invalid_optional_fields_are_stored_as_unknown_without_a_repair(overrides, unknown):
    value, problems = annotate(annotation_content(**overrides))
    assert problems == [] and value is not None
    assert value["unknown"] == unknown
    for field in ("background", "subject", "attribute", "description"):
        if field in unknown:
            assert value[field] == ""  # unknown, never a guess or a cut-off text
    assert value["emotion"] == "awe" and value["confidence"] == 7.0


def test_a_bad_box_is_left_out_and_the_good_ones_kept():
    boxes = [{"phrase": "p", "box": [0.5, 0.1, 0.2, 0.9]}, {"phrase": "q", "box": [0, 0, 1, 1]}]
    value, _ = annotate(annotation_content(boxes=boxes), size=(10, 10))
    assert value is not None and value["unknown"] == ["boxes[0]"]
    assert value["boxes"] == [{"phrase": "q", "box": [0.0, 0.0, 10.0, 10.0]}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the reply was empty"),
        (None, "the reply was empty"),
        ('{"description": "a person", "emotion": ', "the reply is not valid JSON"),
        ("[1, 2]", "the reply must be one JSON object, not list"),
    ],
)
def test_non_objects_are_rejected(text, expected):
    value, problems = load_json_object(text)
    assert value is None and problems[0].startswith(expected)


def test_only_emotion_and_confidence_are_required():
    value, problems = annotate({"emotion": "awe", "confidence": 3})
    assert problems == [] and value is not None
    assert value["unknown"] == ["description", "background", "attribute", "subject"]
    assert value["boxes"] is None  # no boxes is an answer, not an unknown
    value, problems = annotate({"description": "a plain"})
    assert value is None and len(problems) == 2  # emotion, confidence


def critic(content):
    return parse_critic(json.dumps(content), labels=LABELS)


def test_a_revise_verdict_is_parsed():
    value, problems = critic(critic_content(verdict="Revise", emotion="Awe"))
    assert problems == [] and value is not None
    assert (value["verdict"], value["emotion"]) == ("revise", "awe")
    assert value["checks"] == critic_content()["checks"]
    assert value["instructions"].startswith("Look again")


def test_verdict_rules():
    assert critic(critic_content(verdict="drop", emotion="", instructions=""))[1] == []
    _, problems = critic(critic_content(verdict="preserve", emotion=""))
    assert problems == ['"emotion" must be one of: ' + ", ".join(LABELS) + " (got '')"]
    _, problems = critic(critic_content(verdict="revise", emotion=None))
    assert problems == ['"emotion" must be one of: ' + ", ".join(LABELS) + " (got None)"]
    _, problems = critic(critic_content(verdict="keep"))
    assert problems == ["\"verdict\" must be one of: preserve, revise, drop (got 'keep')"]
    _, problems = critic(critic_content(reasoning=""))
    assert problems == ['"reasoning" must be a non-empty string']


def test_a_revise_without_instructions_is_kept_with_them_unknown():
    value, problems = critic(critic_content(verdict="revise", instructions=" "))
    assert problems == [] and value is not None
    assert (value["verdict"], value["instructions"], value["unknown"]) == (
        "revise",
        "",
        ["instructions"],
    )


def test_a_drop_needs_no_emotion_and_a_bad_one_is_not_kept():
    value, problems = critic(critic_content(verdict="drop", emotion="joy", instructions=None))
    assert problems == [] and value is not None and value["emotion"] == ""


def test_checks_not_given_are_unknown_not_false():
    checks = {"emotion_consistent": "yes", "triplet_grounded": True}
    value, problems = critic(critic_content(checks=checks))
    assert problems == [] and value is not None
    assert value["checks"] == {
        "emotion_consistent": None,
        "triplet_grounded": True,
        "box_matches_subject": None,
        "confidence_plausible": None,
    }
    assert value["unknown"] == [
        "checks.emotion_consistent",
        "checks.box_matches_subject",
        "checks.confidence_plausible",
    ]
    content = critic_content()
    del content["checks"]
    value, problems = critic(content)
    assert problems == [] and value is not None
    assert set(value["checks"].values()) == {None}


def assert_strict(schema):
    """OpenAI strict mode: every object lists all its properties as required, no extras."""
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    for child in schema["properties"].values():
        if child.get("type") == "object":
            assert_strict(child)
        items = child.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            assert_strict(items)


def test_schemas_are_strict_and_carry_the_taxonomy():
    annotation = annotation_schema(LABELS)
    assert_strict(annotation)
    assert annotation["properties"]["emotion"]["enum"] == LABELS
    verdict = critic_schema(LABELS)
    assert_strict(verdict)
    assert next(iter(verdict["properties"])) == "reasoning"  # reason first, then decide
    assert verdict["properties"]["emotion"]["enum"] == [*LABELS, ""]
