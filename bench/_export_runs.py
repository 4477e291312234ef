"""What the export benches share: the synthetic dataset export_memory and export_speed export,
a fresh process for each measurement, and peak memory and CPU around one export."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _common

STATUSES = [
    ("agreed", 0.5),
    ("adjudicated", 0.15),
    ("disputed", 0.25),
    ("pending", 0.05),
    ("dropped", 0.05),
]
DATASET = "bench-export"


def make_export_dataset(data_dir: Path, count: int, des_share: float) -> tuple[Any, Any]:
    """A fresh SQLite database in `data_dir` holding dataset DATASET: `count` samples as
    _common.make_samples makes them, answered by "bench-annotator"; (dataset, annotator)."""
    _common.setup_django(data_dir)
    _common.migrate()
    from django.contrib.auth import get_user_model

    from annotator.models import Dataset, Taxonomy

    annotator = get_user_model().objects.create(username="bench-annotator")
    dataset = Dataset.objects.create(
        name=DATASET,
        taxonomy=Taxonomy.objects.get(name="mikels8"),
        model_weights={"gemini-2.5": 1.2},
    )
    _common.make_samples(
        dataset=dataset, count=count, statuses=STATUSES, des_share=des_share, annotator=annotator
    )
    return dataset, annotator


def child_line(script: str, args: list[str]) -> str:
    """Run `script` with `args` in a fresh process (its memory is the export's alone); its
    last stdout line. A failed child ends the bench with its stderr."""
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def measured_export(write: Callable[[], int]) -> dict[str, float]:
    """write() (returns the rows it wrote) with its wall and CPU seconds, the RSS just before,
    the peak RSS after and the growth between them (MiB)."""
    before = _common.rss_mib()
    start, cpu_start = time.perf_counter(), _common.cpu_seconds()
    rows = write()
    seconds, cpu = time.perf_counter() - start, _common.cpu_seconds() - cpu_start
    peak = _common.peak_rss_mib()
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu": cpu,
        "rss_before": before,
        "peak": peak,
        "growth": max(peak - before, 0.0),
    }
