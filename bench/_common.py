"""Shared bench helpers: a throwaway SQLite database, synthetic data, tables, memory readings.

Import `setup_django` before anything from Django: it points DATABASE_URL and EMOREVIEW_DATA_DIR
at a temporary directory first, so a bench never touches ./data.
"""

from __future__ import annotations

import os
import platform
import random
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from annotator.taxonomy import MIKELS_8_LABELS

REPO = Path(__file__).resolve().parent.parent
SOURCES = ["EmoSet", "FI", "ArtPhoto", "Emotion6", "WEBEmo", "Abstract"]
MODELS = ["gemini-2.5", "gpt-4o", "qwen2.5-vl"]
EMOTIONS = MIKELS_8_LABELS  # the taxonomy the app ships, so bench labels match its own


def setup_django(data_dir: Path) -> None:
    """Configure Django on a fresh SQLite file in `data_dir` (call once, before Django imports)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["EMOREVIEW_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "annotator.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    # WhiteNoise warns that collectstatic never ran; the bench serves no static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    import django

    django.setup()


def required_postgres_and_redis() -> tuple[str, str]:
    """DATABASE_URL and CELERY_BROKER_URL, or exit saying what the bench needs."""
    database, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis"):
        sys.exit("Set DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... (see --help)")
    return database, broker


@contextmanager
def scratch_postgres(url: str, *, prefix: str, keep: bool = False) -> Iterator[str]:
    """A fresh database on `url`'s server, named after this process; DATABASE_URL points at it
    meanwhile (workers the bench starts inherit it). Dropped afterwards unless `keep`."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    try:
        yield os.environ["DATABASE_URL"]
    finally:
        if not keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django_migrated(data_dir: Path) -> None:
    """Configure Django on the DATABASE_URL already set (a scratch_postgres) and migrate it."""
    os.environ["EMOREVIEW_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "annotator.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    migrate()


def run_with_django(*, postgres: bool, prefix: str, fn: Callable[[], None]) -> None:
    """Django set up on a fresh database (a scratch PostgreSQL database on DATABASE_URL, or
    SQLite in a temporary folder), `fn` run on it, the folder removed afterwards."""
    import shutil
    import tempfile

    data_dir = Path(tempfile.mkdtemp(prefix=f"emoreview-{prefix}-"))
    try:
        if postgres:
            url, _ = required_postgres_and_redis()
            with scratch_postgres(url, prefix=f"bench_{prefix}"):
                setup_django_migrated(data_dir)
                fn()
        else:
            setup_django(data_dir)
            fn()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def machine() -> str:
    import sqlite3

    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {load()}"
    )


def load() -> str:
    """The machine's load: wall times above mean little when other work shares the cores."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min)"


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds_with_children() -> float:
    """This process's CPU and its finished children's: a large file is parsed in worker
    processes (annotator/importers/parallel.py), reaped before the import returns; a child
    still running (a server) is not in the figure."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return cpu_seconds() + children.ru_utime + children.ru_stime


def rss_mib() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(fn: Callable[[], object], *, runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so the output can be pasted into docs/performance.md."""
    text = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(text[0], widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    numeric = [isinstance(v, int | float) for v in rows[0]] if rows else []
    for row in text[1:]:
        cells = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(row, widths, numeric, strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
    print(flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pick_status(rng: random.Random, shares: Sequence[tuple[str, float]]) -> str:
    return rng.choices([s for s, _ in shares], weights=[w for _, w in shares])[0]


def make_samples(
    *,
    dataset: Any,
    count: int,
    statuses: Sequence[tuple[str, float]],
    des_share: float = 0.0,
    proposals: int = 3,
    seed: int = 7,
    chunk: int = 5000,
    annotator: Any = None,
    progress: bool = True,
) -> None:
    """`count` samples with `proposals` proposals each, in chunks of bulk_create.

    Disputed samples get disagreeing proposals; agreed ones unanimous ones. With an `annotator`,
    adjudicated samples get an adjudication, dropped ones a drop verdict, and half the samples a
    boxed subject region (what the export reads).
    """
    from django.db import transaction

    from annotator.models import Sample

    rng = random.Random(seed)
    import numpy as np

    vectors = np.random.default_rng(seed)  # distinct float32 vectors: they compress like real ones
    start = time.perf_counter()
    for offset in range(0, count, chunk):
        size = min(chunk, count - offset)
        samples = []
        for i in range(offset, offset + size):
            status = pick_status(rng, statuses)
            samples.append(
                Sample(
                    dataset=dataset,
                    external_id=f"img-{i:07d}",
                    image_path=f"{rng.choice(SOURCES).lower()}/{i:07d}.jpg",
                    source=rng.choice(SOURCES),
                    width=640,
                    height=480,
                    content_hash=f"{i:064x}",
                    des=(
                        vectors.standard_normal(1024, dtype=np.float32).tobytes()
                        if rng.random() < des_share
                        else None
                    ),
                    status=status,
                    suggested_emotion=rng.choice(EMOTIONS) if status != "pending" else "",
                    vote_margin=rng.random(),
                )
            )
        with transaction.atomic():
            Sample.objects.bulk_create(samples)
            _related(samples, rng=rng, proposals=proposals, annotator=annotator)
        if progress:
            done = offset + size
            rate = done / (time.perf_counter() - start)
            print(f"  generated {done:,}/{count:,} samples ({rate:,.0f}/s)", end="\r", flush=True)
    if progress:
        print(" " * 60, end="\r")


def _related(samples: list[Any], *, rng: random.Random, proposals: int, annotator: Any) -> None:
    from annotator.models import CriticVerdict, Proposal, Region
    from review.models import Adjudication

    props, regions, adjudications, verdicts = [], [], [], []
    for sample in samples:
        for model in MODELS[:proposals]:
            emotion = sample.suggested_emotion
            if sample.status in ("disputed", "dropped") and model != MODELS[0]:
                emotion = rng.choice(EMOTIONS)
            props.append(
                Proposal(
                    sample=sample,
                    model_name=model,
                    emotion=emotion,
                    confidence=round(rng.uniform(3, 10), 1),
                    description=f"A scene that {model} reads as {emotion or 'unclear'}.",
                    background="snow-covered plain",
                    attribute="excited",
                    subject="person",
                )
            )
        if annotator is None:
            continue
        if rng.random() < 0.5:
            regions.append(
                Region(sample=sample, role="subject", phrase="person", x1=10, y1=20, x2=200, y2=300)
            )
        if sample.status == "adjudicated":
            adjudications.append(
                Adjudication(
                    sample=sample,
                    annotator=annotator,
                    emotion=sample.suggested_emotion,
                    confidence=8.0,
                    subject="person",
                )
            )
        if sample.status == "dropped":
            verdicts.append(CriticVerdict(sample=sample, verdict="drop"))
    Proposal.objects.bulk_create(props)
    Region.objects.bulk_create(regions)
    Adjudication.objects.bulk_create(adjudications)
    CriticVerdict.objects.bulk_create(verdicts)


def make_jpegs(root: Path, count: int, *, width: int = 640, height: int = 480) -> None:
    """`count` photo-sized JPEGs 00000.jpg... of random 16 px blocks (so they compress like
    photos, not like flat colour), the same on every run."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(3)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        base = rng.integers(0, 255, size=(height // 16, width // 16, 3), dtype=np.uint8)
        pixels = np.kron(base, np.ones((16, 16, 1), dtype=np.uint8))
        Image.fromarray(pixels).save(root / f"{i:05d}.jpg", quality=85)
