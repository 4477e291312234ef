"""Export speed for every format: time to the first byte of the streamed download, total wall
time and peak memory growth, against reading the same rows without writing them (same run);
and how soon an export job shows progress.

For each size N a throwaway SQLite database (temp dir) gets N synthetic samples as
bench/export_memory.py makes them (3 proposals each, 30% with DES, adjudications, drop verdicts,
boxed regions) plus one human answer on 30% of them. Then, each in a fresh process:

- `read` (the baseline): the label rows in batches (export_rows.iter_export_batches), nothing
  written; `read+DES` the same with the DES vectors; `answers read`: the answer rows.
- each label format through the web download (the Export page's streamed "Download now", a
  Django test client signed in as an admin): first byte = the first non-empty chunk of the
  response; each answers format from its chunk writer (it has no streamed page).
- `job`: an export job started as the page starts one (run in a thread of the process, as
  without a broker); "total known" is when the job has its row count (the page's bar has an
  end), "first bytes" when it shows bytes written, "first rows" when it has counted rows
  written (the bar moves). The job is then cancelled (it stops at its next progress write).

Growth is peak RSS (ru_maxrss) minus RSS just before the export, with Django, pyarrow, a first
query and (for the downloads) a first request of the signed-in client loaded.

    .venv/bin/python bench/export_speed.py                  # N = 10,000 (about 2 minutes)
    .venv/bin/python bench/export_speed.py --full           # N = 219,000 (EmoVerse's size)
    .venv/bin/python bench/export_speed.py --sizes 2000 --formats csv coco
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._export_runs import DATASET, child_line, make_export_dataset  # noqa: E402

LABEL_FORMATS = ["csv", "parquet", "coco", "jsonl", "labelstudio"]
ANSWER_FORMATS = ["answers-csv", "answers-parquet"]
BASELINES = ["read", "read+DES", "answers read"]
ANSWER_SHARE = 0.3


def generate(data_dir: Path, count: int, des_share: float) -> None:
    dataset, annotator = make_export_dataset(data_dir, count, des_share)
    from django.contrib.auth import get_user_model

    from annotator.models import Sample
    from review.models import Annotation

    get_user_model().objects.create(username="bench-admin", is_staff=True, is_superuser=True)
    ids = Sample.objects.filter(dataset=dataset).values_list("pk", flat=True)
    every = round(1 / ANSWER_SHARE)
    answers = [
        Annotation(sample_id=pk, annotator=annotator, emotion="awe", confidence=6.5, notes="ok")
        for n, pk in enumerate(ids.iterator())
        if n % every == 0
    ]
    Annotation.objects.bulk_create(answers, batch_size=5000)


def _consume(chunks: Any) -> tuple[float, float, int]:
    """(seconds to the first non-empty chunk, total seconds, bytes), timed from now."""
    start = time.perf_counter()
    first, size = None, 0
    for data in chunks:
        if data and first is None:
            first = time.perf_counter() - start
        size += len(data)
    return first or 0.0, time.perf_counter() - start, size


def _label_download(dataset: Any, fmt: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    params = {"dataset": dataset.name, "format": fmt, "scope": "all"}
    # A first request loads the middleware (WhiteNoise scans the static files): not the export's.
    assert client.get(reverse("review:export")).status_code == 200

    def chunks() -> Any:
        response = client.get(reverse("review:export_download"), params)
        assert response.status_code == 200, response.status_code
        yield from response.streaming_content  # type: ignore[attr-defined]

    return chunks()


def _baseline(dataset: Any, which: str) -> Any:
    from django.conf import settings

    from review.selectors.export_answers import iter_answer_batches
    from review.selectors.snapshot import consistent_snapshot
    from review.services.export_rows import iter_export_batches

    def rows() -> Any:
        with consistent_snapshot():
            batches: Any
            if which == "answers read":
                batches = iter_answer_batches(
                    dataset=dataset, batch_size=settings.EXPORT_BATCH_SIZE
                )
            else:
                batches = iter_export_batches(
                    dataset=dataset, scope="all", with_des=which == "read+DES"
                )
            for batch in batches:
                yield b"x" * len(batch)  # one byte per row: "bytes" counts rows here

    return rows()


def export(data_dir: Path, target: str, batch_size: int) -> dict[str, float]:
    os.environ["EXPORT_BATCH_SIZE"] = str(batch_size)
    _common.setup_django(data_dir)
    import pyarrow.parquet  # noqa: F401  (loaded before the baseline, as a server would have it)

    from annotator.selectors.datasets import dataset_by_name
    from review.services.export_answers import iter_answers_export

    dataset = dataset_by_name(name=DATASET)
    assert dataset is not None
    dataset.samples.count()  # the first query: connection and caches warm
    if target in BASELINES:
        chunks = _baseline(dataset, target)
    elif target in ANSWER_FORMATS:
        fmt = target.removeprefix("answers-")
        chunks = (c.data for c in iter_answers_export(dataset=dataset, fmt=fmt))
    else:
        chunks = _label_download(dataset, target)  # its warm-up request is done here
    before = _common.rss_mib()
    cpu_start = _common.cpu_seconds()
    first, seconds, size = _consume(chunks)
    peak = _common.peak_rss_mib()
    return {
        "first": first,
        "seconds": seconds,
        "cpu": _common.cpu_seconds() - cpu_start,
        "growth": max(peak - before, 0.0),
        "mib": size / 1024**2,
    }


def job(data_dir: Path, fmt: str, batch_size: int) -> dict[str, float]:
    """Start a job as the page does (in a thread, no broker); when is its progress visible?"""
    os.environ["EXPORT_BATCH_SIZE"] = str(batch_size)
    os.environ["EXPORT_ROOT"] = str(data_dir / "exports")
    _common.setup_django(data_dir)
    from django.contrib.auth import get_user_model
    from django.db import connections

    from annotator.selectors.datasets import dataset_by_name
    from review.models import ExportJob
    from review.services.export_jobs import cancel_export_job, run_export_job

    dataset = dataset_by_name(name=DATASET)
    assert dataset is not None
    admin = get_user_model().objects.get(username="bench-admin")
    row = ExportJob.objects.create(dataset=dataset, fmt=fmt, scope="all", created_by=admin)

    def target() -> None:
        try:
            run_export_job(job_id=row.pk)
        finally:
            connections.close_all()

    start = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    known = written = moving = None
    while moving is None and time.perf_counter() - start < 120:
        total, done, size, status = ExportJob.objects.values_list(
            "rows_total", "rows_done", "file_size", "status"
        ).get(pk=row.pk)
        now = time.perf_counter() - start
        if known is None and total:
            known = now
        if written is None and (size or status == "done"):
            written = now
        if done or status == "done":
            moving = now
        time.sleep(0.02)
    cancel_export_job(job=row, user=admin)
    thread.join(timeout=120)
    nan = float("nan")
    return {"known": known or nan, "written": written or nan, "moving": moving or nan}


def child(args: list[str]) -> dict[str, float]:
    """Run this script in a fresh process; its last stdout line, as JSON."""
    return dict(json.loads(child_line(__file__, args)))


def _rows_for(size: int, args: argparse.Namespace, tmp: str) -> list[list[object]]:
    common = ["--dir", tmp, "--batch-size", str(args.batch_size)]
    results = {t: child(["--child-export", t, *common]) for t in [*BASELINES, *args.formats]}
    rows: list[list[object]] = []
    for target, r in results.items():
        base = results["answers read" if target.startswith("answers") else "read"]
        progress = (
            child(["--child-job", target, *common])
            if args.jobs and target in LABEL_FORMATS
            else dict.fromkeys(("known", "written", "moving"), float("nan"))
        )
        rows.append(
            [
                f"{size:,}", target, r["first"], r["seconds"], r["seconds"] / base["seconds"],
                r["cpu"], r["cpu"] / base["cpu"],
                r["growth"], r["mib"] if target not in BASELINES else float("nan"),
                progress["known"], progress["written"], progress["moving"],
            ]
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--full", action="store_true", help="N = 219,000 (EmoVerse)")
    parser.add_argument("--formats", nargs="+", default=[*LABEL_FORMATS, *ANSWER_FORMATS])
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--des-share", type=float, default=0.3)
    parser.add_argument("--no-jobs", dest="jobs", action="store_false")
    parser.add_argument("--child-generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-export", help=argparse.SUPPRESS)
    parser.add_argument("--child-job", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_generate:
        generate(args.dir, args.child_generate, args.des_share)
        return
    if args.child_export:
        print(json.dumps(export(args.dir, args.child_export, args.batch_size)))
        return
    if args.child_job:
        print(json.dumps(job(args.dir, args.child_job, args.batch_size)))
        return

    sizes = [219_000] if args.full else args.sizes
    print(f"Machine: {_common.machine()}; EXPORT_BATCH_SIZE={args.batch_size}, scope=all\n")
    table: list[list[object]] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="emoreview-bench-") as tmp:
            start = time.perf_counter()
            generating = ["--child-generate", str(size), "--dir", tmp]
            child_line(__file__, [*generating, "--des-share", str(args.des_share)])
            print(f"N={size:,}: generated in {time.perf_counter() - start:.1f} s", flush=True)
            table += _rows_for(size, args, tmp)
    print()
    headers = [
        "N", "export", "first byte s", "wall s", "x read (wall)", "CPU s", "x read (CPU)",
        "growth MiB", "file MiB",
        "job: total known s", "job: first bytes s", "job: first rows s",
    ]  # fmt: skip
    _common.print_table(headers, table)
    print(f"\nAfter the runs: {_common.load()}")


if __name__ == "__main__":
    main()
