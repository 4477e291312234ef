"""Exports are snapshots: an export taken while a re-import commits is all-old or all-new.

The re-import is the real one (import_samples_file, in its own thread and connection) and
changes every sample's label and description. EXPORT_BATCH_SIZE is 7, so 40 samples cross six
batch edges: before exports read in one transaction, rows after the first edge came out new.
Run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/emo_hN.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.models import Dataset, Sample, Taxonomy
from annotator.services.importing import import_samples_file
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.services import export_rows
from review.services.export import iter_csv_chunks, write_csv
from tests.factories import AdminFactory

pytestmark = [
    # The import thread needs committed rows and its own connection.
    pytest.mark.django_db(transaction=True),
]

DATASET = "snap"
SAMPLES = 40
BATCH = 7
OLD, NEW = "old", "new"
REPO = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
EMOTIONS = {OLD: "amusement", NEW: "sadness"}


@pytest.fixture(autouse=True)
def _small_batches(settings) -> None:
    settings.EXPORT_BATCH_SIZE = BATCH


@pytest.fixture(autouse=True)
def _seeded_taxonomy() -> None:
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The same 40 samples twice: every label and description differs between OLD and NEW."""
    paths = {}
    for generation, emotion in EMOTIONS.items():
        lines = [
            json.dumps({
                "id": f"s{i:03d}",
                "image_path": "a.jpg",
                "description": f"{generation} {i}",
                "emotion": emotion,
                "confidence": 7,
            })
            for i in range(SAMPLES)
        ]  # fmt: skip
        paths[generation] = tmp_path / f"{generation}.jsonl"
        paths[generation].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def reimport(path: Path, images_root: Path) -> None:
    import_samples_file(path=path, dataset_name=DATASET, images_root=images_root)


def in_thread(work: Callable[[], None]) -> None:
    """Run `work` on another thread (its own connection) and wait for it to commit."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised on the test's thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the re-import did not finish"
    if failures:
        raise failures[0]


def generations(rows: list[dict[str, Any]]) -> set[str]:
    """Which import each row came from, by its description and its label."""
    seen = set()
    for row in rows:
        words = str(row["description"] or "").split()
        generation = words[0] if words else "no description"
        # A label from one import beside a description from the other is torn too.
        seen.add(generation if row["emotion"] == EMOTIONS.get(generation) else f"torn {generation}")
    return seen


def export_rows_via(way: str, *, client: Any, tmp_path: Path) -> list[dict[str, Any]]:
    """The exported rows, through one of the four ways an export is taken."""
    if way.startswith("command"):
        fmt = way.split("-")[1]
        out = tmp_path / f"export.{fmt}"
        call_command(
            "export_labels", "--dataset", DATASET, "--format", fmt, "--out", str(out),
            "--scope", "all", stdout=io.StringIO(),
        )  # fmt: skip
        if fmt == "csv":
            with out.open(newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        return pq.read_table(out).to_pylist()
    fmt = way.split("-")[1]
    response = client.get(
        reverse("review:export_download"), {"dataset": DATASET, "format": fmt, "scope": "all"}
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    response.close()
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    return pq.read_table(io.BytesIO(body)).to_pylist()


def reimport_after_first_batch(monkeypatch, work: Callable[[], None]) -> list[int]:
    """Make the export run `work` (on another thread) between its first and second batch."""
    real = export_rows.iter_sample_batches
    ran: list[int] = []

    def hooked(**kwargs: Any) -> Iterator[Any]:
        for number, batch in enumerate(real(**kwargs)):
            yield batch
            if number == 0:
                in_thread(work)
                ran.append(number)

    monkeypatch.setattr(export_rows, "iter_sample_batches", hooked)
    return ran


@pytest.mark.postgres
@pytest.mark.parametrize("way", ["command-csv", "command-parquet", "web-csv", "web-parquet"])
def test_a_reimport_between_batches_does_not_reach_the_export(
    way: str, client, files, images_root, monkeypatch, tmp_path: Path
):
    reimport(files[OLD], images_root)
    client.force_login(AdminFactory())
    ran = reimport_after_first_batch(monkeypatch, lambda: reimport(files[NEW], images_root))

    rows = export_rows_via(way, client=client, tmp_path=tmp_path)

    assert ran == [0], "the re-import ran between the batches"
    assert set(Sample.objects.values_list("suggested_emotion", flat=True)) == {EMOTIONS[NEW]}
    assert len(rows) == SAMPLES
    assert generations(rows) == {OLD}


@pytest.mark.postgres
def test_exports_taken_while_reimports_run_are_each_all_old_or_all_new(
    files, images_root, tmp_path: Path
):
    reimport(files[OLD], images_root)
    stop = threading.Event()
    imports: list[float] = []

    def flip_flop() -> None:
        try:
            while not stop.is_set():
                reimport(files[NEW if len(imports) % 2 == 0 else OLD], images_root)
                imports.append(time.monotonic())
        finally:
            connection.close()

    worker = threading.Thread(target=flip_flop)
    worker.start()
    seen: list[set[str]] = []
    try:
        deadline = time.monotonic() + 60  # normally 12 re-imports come first (~5 s)
        # Until both generations were exported too: with quick imports and a slow export the
        # few exports of 12 flips can all land on the old one.
        while time.monotonic() < deadline and (
            len(imports) < 12 or {OLD, NEW} - set().union(*seen)
        ):
            out = io.StringIO(newline="")
            assert write_csv(dataset=_dataset(), scope="all", out=out) == SAMPLES
            seen.append(generations(list(csv.DictReader(io.StringIO(out.getvalue())))))
    finally:
        stop.set()
        worker.join(timeout=60)
    assert len(imports) >= 3, "re-imports committed while exporting"
    mixed = [s for s in seen if len(s) != 1]
    assert not mixed, f"{len(mixed)} of {len(seen)} exports mixed old and new rows"
    assert {OLD, NEW} <= set().union(*seen), "exports saw both imports"


def _dataset() -> Dataset:
    return Dataset.objects.get(name=DATASET)


def test_an_export_reads_in_one_transaction(files, images_root):
    """On every database: one BEGIN before the first read, nothing committed in between.

    PostgreSQL's first statement fixes the snapshot (REPEATABLE READ, READ ONLY); SQLite's is a
    deferred BEGIN (in WAL mode a reader's snapshot; it takes no write lock).
    """
    reimport(files[OLD], images_root)
    dataset = _dataset()
    with CaptureQueriesContext(connection) as queries:
        write_csv(dataset=dataset, scope="all", out=io.StringIO(newline=""))
    statements = [q["sql"].strip().upper() for q in queries.captured_queries]
    reads = [sql for sql in statements if sql.startswith("SELECT")]
    # Model names, taxonomy, latest consensus fit; then samples + 5 a batch (no fit: no posteriors)
    assert len(reads) == 3 + (SAMPLES // BATCH + 1) * 6
    # One transaction around every read: BEGIN first, COMMIT last, none in between.
    assert statements[0] == "BEGIN"  # SQLite: deferred, where the settings' writes use IMMEDIATE
    assert statements[-1] == "COMMIT"
    assert statements.count("BEGIN") == statements.count("COMMIT") == 1
    if connection.vendor == "postgresql":
        assert statements[1] == "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
    assert not connection.in_atomic_block


def test_a_download_left_half_way_closes_its_transaction(files, images_root):
    """A streamed CSV holds its snapshot between chunks; closing it (the client left) ends it."""
    reimport(files[OLD], images_root)
    chunks = iter_csv_chunks(dataset=_dataset(), scope="all")
    assert not connection.in_atomic_block
    assert next(chunks).startswith("sample_id,")
    assert connection.in_atomic_block
    chunks.close()
    assert not connection.in_atomic_block
    assert Sample.objects.count() == SAMPLES  # the connection is usable afterwards


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite leg checks SQLite; PostgreSQL has its own")
@pytest.mark.slow  # a migrated SQLite file and writer processes (18 s of CPU)
def test_on_a_wal_sqlite_file_the_export_keeps_its_snapshot_and_writers_go_on(
    files, images_root, tmp_path: Path
):
    """The deployment default: a WAL SQLite file (pytest's in-memory database has no WAL)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "IMPORT_ROOTS": str(images_root),
        "EMOREVIEW_DATA_DIR": str(tmp_path),
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=REPO, env=env, check=True, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        return done.stdout

    run("manage.py", "migrate", "-v0")
    output = run("-m", "tests.support.export_snapshot_sqlite", str(tmp_path))
    result = json.loads(output.strip().splitlines()[-1])
    assert result["journal_mode"] == "wal"
    assert result["errors"] == []
    assert result["database"] == [EMOTIONS[NEW]], "the re-import committed mid-export"
    assert result["rows"] == SAMPLES
    assert result["exported"] == [OLD]
    # The export took no write lock: the re-import did not wait for it (busy timeout: 20 s).
    assert result["reimport_seconds"] < 10
