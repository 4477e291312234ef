"""A large file is checked by worker processes while this process writes: what is stored and
every problem listed (line numbers, order, duplicates across chunks) must be what the
single-process pass gives. Here "large" is forced down to a few hundred bytes, so a small file
is cut into many chunks."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from annotator.importers import parallel
from annotator.importers.jsonl import line_starts
from annotator.models import Sample
from annotator.services.importing import ImportFailed, import_samples_file
from tests.annotator.importers.helpers import proposal, record, row_counts, write_jsonl
from tests.annotator.importers.test_inserts import lines, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of any size go to two workers in chunks of ~300 bytes."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 300)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    # Earlier tests may leave idle threads behind (a loopback server's request threads, a
    # pipeline run's lease keeper), which would send every file to one process here; the guard
    # itself is tested below.
    monkeypatch.setattr(parallel, "other_threads_running", lambda: False)


def test_a_process_with_other_threads_checks_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    path = write_jsonl(tmp_path / "f.jsonl", *[record(f"s{i}") for i in range(30)])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert parallel.other_threads_running()
        assert parallel.worker_count(path) == 0
    finally:
        stop.set()
        thread.join()


def run(path: Path, images_root: Path) -> None:
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)


def issues(path: Path, images_root: Path) -> list[str]:
    before = row_counts()
    with pytest.raises(ImportFailed) as failed:
        run(path, images_root)
    assert row_counts() == before
    return [str(issue) for issue in failed.value.issues]


def test_small_files_stay_in_one_process(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", record("s1"))
    assert parallel.worker_count(path) == 0


def test_workers_store_what_one_process_stores(
    tmp_path: Path, images_root: Path, workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = lines(images_root) + [record(f"x{i}", "b.jpg", emotion="fear") for i in range(20)]
    path = write_jsonl(tmp_path / "f.jsonl", *rows)
    assert parallel.worker_count(path) == 2
    run(path, images_root)
    in_workers = snapshot()
    Sample.objects.all().delete()
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 10**12)
    assert parallel.worker_count(path) == 0
    run(path, images_root)
    assert snapshot() == in_workers
    assert len(in_workers["samples"]) == 24


def test_a_reimport_in_workers_takes_the_upsert_path(
    tmp_path: Path, images_root: Path, workers: None
) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", *[record(f"s{i}", emotion="awe") for i in range(9)])
    run(path, images_root)
    changed = [record(f"s{i}", emotion="fear" if i == 4 else "awe") for i in range(12)]
    run(write_jsonl(tmp_path / "g.jsonl", *changed), images_root)
    emotions = dict(Sample.objects.values_list("external_id", "suggested_emotion"))
    assert len(emotions) == 12
    assert emotions["s4"] == "fear"
    assert emotions["s11"] == "awe"


def bad_file(tmp_path: Path) -> Path:
    """Problems spread over many chunks: blank lines, a BOM, broken JSON, bad bytes, a
    duplicate id far from its first line, a missing image, a field error with a later one."""
    good = [record(f"g{i}", "a.jpg", proposals=[proposal("m")]) for i in range(12)]
    path = write_jsonl(
        tmp_path / "f.jsonl",
        record("s1", "a.jpg", emotion="awe"),
        "",
        *good[:6],
        "{not json",
        "   ",
        *good[6:],
        record("s1", "b.jpg"),
        record("s2", "missing.jpg", emotion="happy"),
        record("g3", "missing.jpg"),
        {"image_path": "a.jpg"},
    )
    data = b"\xef\xbb\xbf" + path.read_bytes() + b'{"id": "u", "source": "\xff"}\n'
    path.write_bytes(data)
    return path


def test_problems_from_workers_are_those_of_one_process(
    tmp_path: Path, images_root: Path, workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bad_file(tmp_path)
    found = issues(path, images_root)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 10**12)
    assert issues(path, images_root) == found
    assert found == [
        "f.jsonl:9: json: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 2)",
        "f.jsonl:17: id: duplicate id 's1' (first on line 1)",
        "f.jsonl:18: emotion: 'happy' is not in taxonomy mikels8 (amusement, awe, contentment, "
        "excitement, anger, disgust, fear, sadness)",
        "f.jsonl:18: image_path: 'missing.jpg' does not exist under the images root",
        "f.jsonl:19: id: duplicate id 'g3' (first on line 6)",
        "f.jsonl:19: image_path: 'missing.jpg' does not exist under the images root",
        "f.jsonl:20: id: missing",
        "f.jsonl:21: json: not UTF-8 (byte 24)",
    ]


def test_an_over_long_line_is_skipped_in_pieces_by_its_worker(
    tmp_path: Path, images_root: Path, workers: None, settings: Any
) -> None:
    settings.MAX_IMPORT_LINE_BYTES = 1000
    long = record("s2", "a.jpg", source="x" * 5000)
    path = write_jsonl(tmp_path / "f.jsonl", record("s1"), long, record("s3"), record("s3"))
    size = len(path.read_bytes().split(b"\n")[1])
    assert issues(path, images_root) == [
        f"f.jsonl:2: line: is {size:,} bytes long; the limit is 1,000 (MAX_IMPORT_LINE_BYTES)",
        "f.jsonl:4: id: duplicate id 's3' (first on line 3)",
    ]


def test_chunks_start_at_lines_and_cover_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"a\n" + b"b" * 1000 + b"\n\nc\nd")  # a long line, a blank, no last newline
    spans = list(line_starts(path, every=3))
    data = path.read_bytes()
    assert all(data[start - 1 : start] == b"\n" for start, _ in spans[1:])
    assert [data[start:end] for start, end in spans] == [b"a\n" + b"b" * 1000 + b"\n", b"\nc\nd"]
