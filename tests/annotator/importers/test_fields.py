from __future__ import annotations

import struct

import pytest

from annotator.importers.fields import (
    Box,
    FieldBox,
    check_box_inside,
    read_boxes,
    read_confidence,
    read_des,
    split_bas,
)
from annotator.importers.issues import ImportIssue, LineReport


def report() -> LineReport:
    return LineReport(path="samples.jsonl", line=3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("snow-covered plain - excited - person", ("snow-covered plain", "excited", "person")),
        ("night sky \u2013 calm \u2013 lighthouse", ("night sky", "calm", "lighthouse")),
        ("beach\u2014joyful\u2014children", ("beach", "joyful", "children")),
        ("sky-calm-bird", ("sky", "calm", "bird")),
        (["park", "sunny", "dog"], ("park", "sunny", "dog")),
    ],
)
def test_bas_splits_on_spaced_dashes_then_long_dashes_then_hyphens(value, expected):
    r = report()
    assert split_bas(value, field="B-A-S", report=r) == expected
    assert r.issues == []


@pytest.mark.parametrize(
    "value", ["snow-covered plain-excited-person", "only - two", "a - b - c - d", ["a", "b"], 7]
)
def test_bas_that_is_not_three_parts_is_an_error_naming_the_field(value):
    r = report()
    assert split_bas(value, field="B-A-S", report=r) is None
    [issue] = r.issues
    assert str(issue).startswith("samples.jsonl:3: B-A-S: ")
    assert "does not split into Background - Attribute - Subject" in issue.message


def test_boxes_accept_objects_lists_and_lists_of_either():
    r = report()
    assert read_boxes({"x1": 1, "y1": 2, "x2": 3, "y2": 4}, field="bbox", report=r) == [
        FieldBox("bbox", Box(1, 2, 3, 4))
    ]
    assert read_boxes([1, 2, 3, 4.5], field="bbox", report=r) == [
        FieldBox("bbox", Box(1, 2, 3, 4.5))
    ]
    many = read_boxes([{"x1": 0, "y1": 0, "x2": 5, "y2": 5}, [1, 1, 2, 2]], field="bbox", report=r)
    assert many == [FieldBox("bbox[0]", Box(0, 0, 5, 5)), FieldBox("bbox[1]", Box(1, 1, 2, 2))]
    assert read_boxes([], field="bbox", report=r) == []
    assert read_boxes(None, field="bbox", report=r) == []
    assert r.issues == []


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ([10, 5, 2, 8], "bbox", "box [10, 5, 2, 8] is inverted or empty (needs x1 < x2, y1 < y2)"),
        ([[0, 0, 1, 1], [3, 3, 3, 9]], "bbox[1]", "box [3, 3, 3, 9] is inverted or empty"),
        ({"x1": 0, "y1": 0, "x2": 1}, "bbox", "is not a box"),
        ([0, 0, "1", 1], "bbox", "has a corner that is not a number"),
        ([0, 0, 1], "bbox", "is not a box"),
        ("0,0,1,1", "bbox", "must be a box or a list of boxes, not a string"),
    ],
)
def test_bad_boxes_name_the_box_field(value, field, message):
    r = report()
    boxes = read_boxes(value, field="bbox", report=r)
    assert all(item.field != field for item in boxes)
    [issue] = r.issues
    assert issue.field == field and message in issue.message


def test_box_outside_the_image_is_reported_with_the_image_size():
    r = report()
    check_box_inside(FieldBox("bbox[2]", Box(0, 0, 64, 48)), width=64, height=48, report=r)
    assert r.issues == []
    check_box_inside(FieldBox("bbox[2]", Box(0, 0, 65, 48)), width=64, height=48, report=r)
    assert r.issues == [
        ImportIssue(
            "samples.jsonl", 3, "bbox[2]", "box [0, 0, 65, 48] lies outside the 64x48 image"
        )
    ]


def test_des_is_stored_as_1024_little_endian_float32():
    values = [i / 1024 for i in range(1024)]
    r = report()
    packed = read_des(values, field="DES", report=r)
    assert packed is not None and len(packed) == 4096
    assert struct.unpack("<1024f", packed)[5] == pytest.approx(5 / 1024)
    assert r.issues == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0.0] * 1023, "has 1023 values, expected 1024"),
        ([0.0] * 1023 + ["x"], "value 1023 is 'x', not a finite number"),
        ([True] * 1024, "value 0 is true, not a finite number"),
        ([1e39] * 1024, "outside the float32 range"),
        ("0.1 0.2", "must be an array of 1024 numbers, not a string"),
    ],
)
def test_bad_des_is_an_error(value, message):
    r = report()
    assert read_des(value, field="DES", report=r) is None
    [issue] = r.issues
    assert issue.field == "DES" and message in issue.message


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (10, 10.0), ("7.5", 7.5), (None, None)])
def test_confidence_accepts_0_to_10_and_numeric_strings(value, expected):
    r = report()
    assert read_confidence(value, field="confidence", report=r) == expected
    assert r.issues == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10.5, "10.5 is outside 0-10"),
        (-1, "-1 is outside 0-10"),
        ("high", "'high' is not a number"),
        (True, "must be a number, not a boolean"),
        (float("inf"), "is not a finite number"),
    ],
)
def test_confidence_outside_range_or_not_numeric_is_an_error(value, message):
    r = report()
    assert read_confidence(value, field="intensity", report=r) is None
    [issue] = r.issues
    assert issue.field == "intensity" and message in issue.message
