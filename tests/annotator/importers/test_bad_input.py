"""Hostile bytes and oversized inputs in a samples file: each is `file:line: field: message`,
never a traceback (PostgreSQL refused NUL with a DataError; huge integers overflowed float()),
and nothing is written."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from django.db import DataError
from PIL import Image

from annotator.importers import images
from annotator.importers.jsonl import BadLine, read_json_lines
from annotator.services import importing
from annotator.services.importing import ImportFailed, import_samples_file
from tests.annotator.importers.helpers import proposal, record, row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def write_lines(path: Path, *lines: object) -> Path:
    # ensure_ascii (json's default) writes a lone surrogate as the \ud800 escape, as files do.
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, images_root: Path, *lines: object) -> list[str]:
    before = row_counts()
    path = write_lines(tmp_path / "f.jsonl", *lines)
    with pytest.raises(ImportFailed) as failed:
        import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert row_counts() == before
    return [str(issue) for issue in failed.value.issues]


NUL = "contains a NUL character"
SURROGATE = "contains a lone surrogate U+D800"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            record("s1", proposals=[proposal("m", description="a\x00b")]),
            f"f.jsonl:1: proposals[0].description: {NUL} (at character 2)",
        ),
        (record("s1", emotion="awe", analysis="\x00"), f"f.jsonl:1: analysis: {NUL}"),
        (
            record("s1", critic={"verdict": "drop", "reasoning": "r\x00"}),
            f"f.jsonl:1: critic.reasoning: {NUL}",
        ),
        (
            record("s1", critic={"verdict": "drop", "instructions": "\x00"}),
            f"f.jsonl:1: critic.instructions: {NUL}",
        ),
        (record("s1", source="Emo\x00Set"), f"f.jsonl:1: source: {NUL}"),
        (record("s\x001"), f"f.jsonl:1: id: {NUL}"),
        (record("s1", "a\x00.jpg"), f"f.jsonl:1: image_path: {NUL}"),
        (
            record("s1", emotion="awe", note={"deep": ["ok", "x\x00"]}),
            f"f.jsonl:1: note.deep[1]: {NUL}",
        ),
        ({**record("s1", emotion="awe"), "k\x00": 1}, f"f.jsonl:1: line: key 'k\\x00' {NUL}"),
        (record("s1", proposals=[proposal("m\x00")]), f"f.jsonl:1: proposals[0].model: {NUL}"),
        (
            record("s1", proposals=[proposal("m", description="a\ud800")]),
            f"f.jsonl:1: proposals[0].description: {SURROGATE}",
        ),
        (record("s1", emotion="awe", extra="\ud800"), f"f.jsonl:1: extra: {SURROGATE}"),
    ],
)
def test_characters_the_database_refuses_are_listed_with_line_and_field(
    tmp_path, images_root, line, expected
):
    issues = problems(tmp_path, images_root, record("ok", "b.jpg"), line)
    assert any(issue.startswith(expected.replace("f.jsonl:1", "f.jsonl:2")) for issue in issues), (
        issues
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"emotion": "awe", "confidence": 10**400}, "f.jsonl:1: confidence: "),
        ({"emotion": "awe", "confidence": 1e308}, "f.jsonl:1: confidence: 1e+308 is outside 0-10"),
        ({"emotion": "awe", "bbox": [0, 0, 10**400, 5]}, "f.jsonl:1: bbox: "),
        ({"DES": [10**400] * 1024}, "f.jsonl:1: DES: value 0 is "),
    ],
)
def test_numbers_out_of_range_are_listed(tmp_path, images_root, fields, expected):
    issues = problems(tmp_path, images_root, record("s1", **fields))
    assert len(issues) == 1 and issues[0].startswith(expected), issues


def test_nesting_deeper_than_a_record_needs_is_listed(tmp_path, images_root):
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    issues = problems(tmp_path, images_root, record("s1", emotion="awe", extra=deep))
    assert issues == ["f.jsonl:1: extra" + "[0]" * 63 + ": is nested deeper than 64 levels"]


def test_a_line_over_the_limit_is_listed_and_the_next_lines_still_read(
    tmp_path, images_root, settings
):
    settings.MAX_IMPORT_LINE_BYTES = 1000
    long_line = record("s2", emotion="awe", description="x" * 5000)
    issues = problems(tmp_path, images_root, record("s1"), long_line, record("s3", emotion="happy"))
    size = len(json.dumps(long_line))
    assert issues[0] == (
        f"f.jsonl:2: line: is {size:,} bytes long; the limit is 1,000 (MAX_IMPORT_LINE_BYTES)"
    )
    assert issues[1].startswith("f.jsonl:3: emotion: 'happy' is not in taxonomy")


def test_a_line_exactly_at_the_limit_is_read(tmp_path):
    text = json.dumps({"id": "s1", "pad": ""})
    line = text.replace('""', '"' + "p" * (100 - len(text)) + '"')
    path = tmp_path / "f.jsonl"
    path.write_text(line + "\n" + line)  # the last line has no newline
    assert len(line.encode()) == 100
    values = list(read_json_lines(path, max_line_bytes=100))
    assert [n for n, _ in values] == [1, 2] and not any(isinstance(v, BadLine) for _, v in values)
    assert isinstance(next(iter(read_json_lines(path, max_line_bytes=99)))[1], BadLine)


def test_a_huge_line_is_never_held_in_memory(tmp_path):
    path = tmp_path / "f.jsonl"
    with path.open("wb") as fh:
        fh.write(b'{"id": "' + b"x" * (30 * 1024 * 1024) + b'"}\n{"id": "s2"}\n')
    tracemalloc.start()
    try:
        values = list(read_json_lines(path, max_line_bytes=1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values[0] == (
        1,
        BadLine(
            "is 31,457,290 bytes long; the limit is 1,048,576 (MAX_IMPORT_LINE_BYTES)", field="line"
        ),
    )
    assert values[1] == (2, {"id": "s2"})
    assert peak < 8 * 1024 * 1024


def test_free_text_longer_than_the_setting_is_listed(tmp_path, images_root, settings):
    settings.MAX_IMPORT_TEXT_CHARS = 100
    line = record(
        "s1",
        proposals=[proposal("m", description="d" * 101)],
        critic={"verdict": "preserve", "reasoning": "r" * 101, "instructions": "i" * 100},
    )
    assert problems(tmp_path, images_root, line) == [
        "f.jsonl:1: proposals[0].description: is longer than 100 characters (101)",
        "f.jsonl:1: critic.reasoning: is longer than 100 characters (101)",
    ]


def test_an_image_over_the_default_pixel_limit_is_refused(tmp_path, images_root):
    # 42 megapixels in a few KB: what a decompression bomb looks like (the old default let
    # an 88-megapixel PNG in).
    Image.new("1", (7000, 6000)).save(images_root / "big.png")
    issues = problems(tmp_path, images_root, record("s1", "big.png"))
    assert issues == [
        "f.jsonl:1: image_path: 'big.png' is too large: 42,000,000 pixels; "
        "the limit is 40,000,000 (MAX_IMAGE_PIXELS)"
    ]


def test_a_truncated_jpeg_is_a_line_numbered_problem_at_import(tmp_path, images_root):
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, "JPEG", quality=95)
    (images_root / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    issues = problems(tmp_path, images_root, record("s1"), record("s2", "cut.jpg"))
    assert len(issues) == 1
    assert issues[0].startswith("f.jsonl:2: image_path: 'cut.jpg' cannot be decoded: ")
    assert "truncated" in issues[0]


def test_each_image_is_decoded_in_full_once(tmp_path, images_root, monkeypatch):
    decoded = []
    real_load = Image.Image.load

    def counting_load(self):
        decoded.append(getattr(self, "filename", "") or self.format)
        return real_load(self)

    monkeypatch.setattr(images, "_decode", lambda image: counting_load(image))
    path = write_lines(tmp_path / "f.jsonl", record("s1"), record("s2", "c.png"))
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert decoded == ["JPEG", "PNG"]  # the first pass decodes; the write pass reuses its facts


def test_a_value_the_database_still_refuses_is_a_listed_problem(tmp_path, images_root, monkeypatch):
    def refuse(**kwargs):
        raise DataError("value out of range")

    monkeypatch.setattr(importing, "write_batch", refuse)
    issues = problems(tmp_path, images_root, record("s1"), record("s2", "b.jpg"))
    assert issues == ["f.jsonl: file: lines 1-2: the database refused a value: value out of range"]


def test_a_file_of_bad_lines_lists_at_most_200_problems(tmp_path, images_root):
    issues = problems(tmp_path, images_root, *["{oops"] * 250)
    assert len(issues) == 201
    assert issues[-1] == "f.jsonl: file: and 50 more problems"
