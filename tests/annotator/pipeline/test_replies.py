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
        ({"confidence": 11}, '"confidence" must be a number from 0 to 10 (got 11)'),
        ({"confidence": "7"}, '"confidence" must be a number from 0 to 10'),
        ({"confidence": True}, '"confidence" must be a number from 0 to 10'),
        ({"background": "  "}, '"background" must be a non-empty string'),
        ({"subject": None}, '"subject" must be a non-empty string'),
        ({"attribute": "x" * 301}, '"attribute" must be at most 300 characters'),
        ({"boxes": [{"phrase": "p", "box": [0.5, 0.1, 0.2, 0.9]}]}, '"boxes"[0].box must be'),
        ({"boxes": [{"phrase": "p", "box": [10, 20, 300, 400]}]}, '"boxes"[0].box must be'),
        ({"boxes": [{"box": [0, 0, 1, 1]}]}, '"boxes"[0] must be {"phrase"'),
        ({"boxes": "person"}, '"boxes" must be a list or null'),
    ],
)
def test_invalid_fields_are_named_for_the_repair_prompt(overrides, expected):
    value, problems = annotate(annotation_content(**overrides))
    assert value is None
    assert len(problems) == 1 and problems[0].startswith(expected)


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


def test_missing_keys_are_all_listed():
    value, problems = annotate({"emotion": "awe"})
    assert value is None
    assert len(problems) == 5  # description, confidence, background, attribute, subject


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
    _, problems = critic(critic_content(verdict="revise", instructions=" "))
    assert problems == ['"instructions" must say what to re-annotate when the verdict is revise']
    _, problems = critic(critic_content(verdict="keep"))
    assert problems == ["\"verdict\" must be one of: preserve, revise, drop (got 'keep')"]


def test_checks_must_all_be_booleans():
    checks = {"emotion_consistent": "yes", "triplet_grounded": True}
    _, problems = critic(critic_content(checks=checks))
    assert problems == [
        '"checks"."emotion_consistent" must be true or false',
        '"checks"."box_matches_subject" must be true or false',
        '"checks"."confidence_plausible" must be true or false',
    ]


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
