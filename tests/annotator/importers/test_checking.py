"""The single pass: lines are written in batches as they come, yet one bad line anywhere
leaves nothing written, and every problem is still listed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from annotator.importers.jsonl import _fast
from annotator.models import Sample
from annotator.services import importing
from tests.annotator.importers.helpers import (
    import_lines,
    import_problems,
    proposal,
    record,
)

pytestmark = pytest.mark.django_db


def test_a_bad_last_line_undoes_the_batches_already_written(tmp_path, images_root, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    written: list[int] = []
    real = importing.write_batch

    def counted(**kwargs: Any) -> None:
        written.append(len(kwargs["rows"]))
        real(**kwargs)

    monkeypatch.setattr(importing, "write_batch", counted)
    good = [record(f"s{i}", "a.jpg", proposals=[proposal("m")]) for i in range(5)]
    found = import_problems(tmp_path, images_root, *good, record("bad", "a.jpg", emotion="happy"))
    assert written == [2, 2]  # written as they came, then rolled back
    assert found == [
        "f.jsonl:6: emotion: 'happy' is not in taxonomy mikels8 (amusement, awe, contentment, "
        "excitement, anger, disgust, fear, sadness)"
    ]
    assert not Sample.objects.exists()


def test_problems_after_the_first_are_still_listed(tmp_path, images_root):
    found = import_problems(
        tmp_path,
        images_root,
        record("s1", "a.jpg", emotion="happy"),
        record("s2", "a.jpg"),
        record("s3", "missing.jpg"),
        record("s2", "b.jpg"),
    )
    assert [issue.split(": ")[:2] for issue in found] == [
        ["f.jsonl:1", "emotion"],
        ["f.jsonl:3", "image_path"],
        ["f.jsonl:4", "id"],
    ]


def test_an_integer_id_past_64_bits_is_read_exactly(tmp_path, images_root):
    import_lines(
        tmp_path, images_root, {"id": 123456789012345678901234567890, "image_path": "a.jpg"}
    )
    assert Sample.objects.get().external_id == "123456789012345678901234567890"


@pytest.mark.parametrize(
    ("des", "expected"),
    [
        ([0.5] * 1023 + [True], "f.jsonl:1: DES: value 1023 is true, not a finite number"),
        ([0.5] * 1023 + ["1"], "f.jsonl:1: DES: value 1023 is '1', not a finite number"),
        ([0.5] * 1023 + [1e39], "f.jsonl:1: DES: has a value outside the float32 range"),
        ([0.5] * 1023 + [None], "f.jsonl:1: DES: value 1023 is null, not a finite number"),
    ],
)
def test_des_values_are_checked_on_the_fast_path_too(tmp_path, images_root, des, expected):
    assert import_problems(tmp_path, images_root, record("s1", "a.jpg", DES=des)) == [expected]


def test_des_holding_an_integer_and_a_bool_elsewhere_in_the_line(tmp_path, images_root):
    des = [1] + [0.25] * 1023  # an integer is a number; the line's `true` is not in DES
    import_lines(tmp_path, images_root, record("s1", "a.jpg", DES=des, flag=True))
    assert bytes(Sample.objects.get().des or b"")[:8] == b"\x00\x00\x80\x3f\x00\x00\x80\x3e"


@pytest.mark.parametrize(
    ("line", "plain"),
    [
        (b'{"id": 1, "DES": [1, 0.5]}', True),
        (b'{"id": 1, "DES": [true, 0.5]}', False),
        (b'{"id": 1, "DES": [1, 0.5], "note": "false alarm"}', False),  # a string: still wary
    ],
)
def test_only_a_line_without_true_or_false_packs_des_unchecked(line: bytes, plain: bool) -> None:
    found = _fast(line)
    assert found is not None
    assert found[1].plain_numbers is plain


def test_an_escaped_nul_is_refused_though_orjson_reads_it(tmp_path, images_root):
    line = json.dumps(record("s1", "a.jpg", source="a\x00b"))
    assert "\\u0000" in line
    assert import_problems(tmp_path, images_root, line) == [
        "f.jsonl:1: source: contains a NUL character (at character 2)"
    ]
