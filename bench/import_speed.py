"""Import speed at EmoVerse scale: `import_samples` on generated EmoVerse records, against just
parsing the same file, in the same run.

Each record has 2 model proposals (about 30% disagree) with EmoVerse's fields (description,
emotion, confidence, background/attribute/subject and B-A-S, one box), a 1024-d DES (values of
6 decimals), a critic verdict on a tenth, and names one of `--images` distinct JPEGs (640x480),
so image headers are read once per distinct path, as repeated images allow.
Per size, a fresh database and a fresh child process: the baseline (read the file and decode
each line with orjson, nothing else, in one process), then the import through
`import_samples_file`, which parses a large file in worker processes while it writes. The table
gives wall and CPU seconds (the import's CPU includes its workers'; the writer's is the importing
process's own, which is most of what SQLite costs; on PostgreSQL the server's CPU is its own
column, the backend of the import's connection read from /proc when the server runs on this
machine, "-" otherwise), CPU ms per line (the import's, the server's not included), lines per
second, the ratio to the baseline, the peak RSS growth of the importing process and the largest
worker's peak RSS, and the growth ratio (seconds per line at the largest size / at the
smallest: about 1 means the cost per line does not grow with the file).

    .venv/bin/python bench/import_speed.py --sizes 10000,50000
    .venv/bin/python bench/import_speed.py --sizes 10000,50000 --postgres   # DATABASE_URL=postgres://…
    .venv/bin/python bench/import_speed.py --full                           # adds 219,000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common, _queue_load  # noqa: E402

FULL = 219_000


def make_file(path: Path, *, count: int, images: int, seed: int = 5) -> None:
    """`count` EmoVerse records, shape 1 (two proposals), DES on every one."""
    import numpy as np
    import orjson

    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    with path.open("wb") as out:
        for i in range(count):
            first = rng.choice(_common.EMOTIONS)
            second = rng.choice(_common.EMOTIONS) if rng.random() < 0.3 else first
            record: dict[str, Any] = {
                "id": f"ev-{i:07d}",
                "image_path": f"{rng.randrange(images):05d}.jpg",
                "source": rng.choice(_common.SOURCES),
                "DES": vectors.normal(0, 0.05, 1024).round(6).tolist(),
                "proposals": [_proposal(rng, model, emotion) for model, emotion in
                              (("gpt-4o", first), ("gemini-2.5", second))],
            }  # fmt: skip
            if rng.random() < 0.1:
                record["critic"] = {"verdict": "preserve", "emotion": first, "reasoning": "fits"}
            out.write(orjson.dumps(record) + b"\n")


def _proposal(rng: random.Random, model: str, emotion: str) -> dict[str, Any]:
    x, y = rng.randrange(0, 300), rng.randrange(0, 200)
    return {
        "model": model,
        "description": f"A lone hiker faces a vast glacier; {model} reads it as {emotion}.",
        "emotion": emotion,
        "confidence": round(rng.uniform(3, 10), 1),
        "background": "vast glacier",
        "attribute": "tiny, still",
        "subject": "hiker",
        "B-A-S": "vast glacier - tiny, still - hiker",
        "bbox": [x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 250)],
    }


def child(path: Path, images_root: Path, data_dir: Path) -> None:
    """One measurement in this fresh process; prints one JSON line."""
    os.environ["IMPORT_ROOTS"] = str(images_root)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        _common.setup_django_migrated(data_dir)
    else:
        _common.setup_django(data_dir)
        _common.migrate()
    import orjson

    from annotator.services.importing import import_samples_file

    cpu, wall = _common.cpu_seconds(), time.perf_counter()
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if orjson.loads(line))
    baseline = (time.perf_counter() - wall, _common.cpu_seconds() - cpu)
    rss = _common.rss_mib()
    backend = _server_process()
    server = _server_cpu(backend)
    cpu, own, wall = _common.cpu_seconds_with_children(), _common.cpu_seconds(), time.perf_counter()
    report = import_samples_file(path=path, dataset_name="bench-import", images_root=images_root)
    took = (time.perf_counter() - wall, _common.cpu_seconds_with_children() - cpu)
    writer = _common.cpu_seconds() - own
    server = _server_cpu(backend) - server
    result = {
        "lines": lines,
        "created": report.created,
        "disputed": report.disputed,
        "baseline_wall": baseline[0],
        "baseline_cpu": baseline[1],
        "wall": took[0],
        "cpu": took[1],
        "writer_cpu": writer,
        "server_cpu": server if backend else None,
        "growth_mib": _common.peak_rss_mib() - rss,
        # the largest worker's peak (0 without workers); a forked worker shares the parent's
        # pages until it writes them, so this counts some of them twice
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    print(json.dumps(result), flush=True)


def _server_process() -> int:
    """The PostgreSQL backend serving this process's connection when the server runs on this
    machine (its CPU is readable in /proc); 0 for SQLite or a server elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    host = str(connection.settings_dict.get("HOST") or "")
    local = host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
    return pid if local and Path(f"/proc/{pid}/stat").exists() else 0


def _server_cpu(pid: int) -> float:
    return _queue_load.proc_cpu(pid) if pid else 0.0  # 0: the server is not on this machine


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on `url`'s server for one child; dropped afterwards. (This
    parent process never sets Django up, so _common.scratch_postgres does not fit.)"""
    import psycopg

    name = f"bench_import_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(path: Path, images_root: Path, work: Path, postgres: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="db-", dir=work))
    command = [sys.executable, __file__, "--child", str(path), str(images_root), str(data_dir)]
    env = dict(os.environ)
    if postgres:
        with scratch_database(postgres) as url:
            env["DATABASE_URL"] = url
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"the import failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_sizes(
    sizes: list[int], *, work: Path, images: int, postgres: str
) -> tuple[list[list[object]], list[float]]:
    images_root = work / "images"
    _common.make_jpegs(images_root, images)
    rows: list[list[object]] = []
    per_line: list[float] = []
    for size in sizes:
        path = work / f"emoverse-{size}.jsonl"
        make_file(path, count=size, images=images)
        got = measure(path, images_root, work, postgres)
        per_line.append(got["wall"] / size)
        rows.append([
            f"{size:,}", round(path.stat().st_size / 1024**2), got["baseline_wall"],
            got["wall"], got["cpu"], got["writer_cpu"], _or_dash(got["server_cpu"]),
            1000 * got["cpu"] / size,
            round(size / got["wall"]),
            got["wall"] / got["baseline_wall"], got["growth_mib"], got["worker_mib"],
        ])  # fmt: skip
        path.unlink()
    return rows, per_line


def _or_dash(value: float | None) -> object:
    return "-" if value is None else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated line counts")
    parser.add_argument("--full", action="store_true", help=f"add {FULL:,} lines (EmoVerse)")
    parser.add_argument("--images", type=int, default=1000, help="distinct image files")
    parser.add_argument("--postgres", action="store_true", help="a scratch DB on DATABASE_URL")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    postgres = os.environ.get("DATABASE_URL", "") if args.postgres else ""
    if args.postgres and not postgres.startswith(("postgres://", "postgresql://")):
        sys.exit("--postgres needs DATABASE_URL=postgres://… (a scratch database is made there)")
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | ({FULL} if args.full else set()))
    work = Path(tempfile.mkdtemp(prefix="emoreview-import-bench-"))
    try:
        rows, per_line = run_sizes(sizes, work=work, images=args.images, postgres=postgres)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'PostgreSQL' if postgres else 'SQLite'}; {_common.machine()}")
    headers = ["lines", "file MB", "parse only s", "import s", "import CPU s", "writer CPU s"]
    headers += ["server CPU s"]
    headers += ["CPU ms/line"]
    headers += ["lines/s", "x parse", "peak RSS growth MB", "worker peak RSS MB"]
    _common.print_table(headers, rows)
    if len(per_line) > 1:
        print(f"growth ratio (s per line, {sizes[-1]:,} / {sizes[0]:,}): "
              f"{per_line[-1] / per_line[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
