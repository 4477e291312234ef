"""Micro-benchmark of review.stats at dashboard scale.

219K units x 3 models (8 categories, ~70 % agreement with a hidden truth), a critic, and two
human ratings per unit spread over 20 annotators (emotion codes and 0-10 confidences).
Prints the median of 5 runs per dashboard figure and their total (target: <= 2 s).

    .venv/bin/python bench/agreement_stats.py [--units N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review import stats

K = 8
ANNOTATORS = 20


def make_data(units: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, units)

    def noisy(p_right: float, missing: float = 0.02) -> np.ndarray:
        labels = np.where(rng.random(units) < p_right, truth, rng.integers(0, K, units))
        return np.where(rng.random(units) < missing, -1, labels).astype(np.int64)

    models = {"qwen": noisy(0.8), "internvl": noisy(0.8), "emovit": noisy(0.75)}
    # Two annotators per unit out of 20: a sparse units x annotators matrix.
    first = rng.integers(0, ANNOTATORS, units)
    second = (first + rng.integers(1, ANNOTATORS, units)) % ANNOTATORS
    emotion = np.full((units, ANNOTATORS), np.nan)
    confidence = np.full((units, ANNOTATORS), np.nan)
    rows = np.arange(units)
    for col in (first, second):
        emotion[rows, col] = noisy(0.85, missing=0.0)
        confidence[rows, col] = rng.integers(0, 11, units)
    final = noisy(0.9, missing=0.0)
    gold = np.where(rng.random(units) < 0.05, truth, -1)
    decisions = 2 * units
    return {
        "models": models,
        "labels": np.stack(list(models.values()), axis=1),
        "model_conf": {name: rng.integers(0, 11, units).astype(float) for name in models},
        "critic": noisy(0.85),
        "verdict": rng.choice(np.array(["preserve", "revise", "drop"]), units),
        "source": rng.choice(np.array(["emoset", "fi", "artphoto", "webemo"]), units),
        "emotion": emotion,
        "confidence": confidence,
        "final": final,
        "gold": gold,
        "who": np.concatenate([first, second]),
        "when": np.sort(rng.uniform(0, 30 * 86400, decisions)),
        "spent": np.where(rng.random(decisions) < 0.9, rng.gamma(2, 15, decisions), 0),
    }


def figures(d: dict[str, Any]) -> dict[str, Callable[[], object]]:
    """One entry per dashboard figure, as the dashboard would call it."""
    with_critic = np.column_stack([d["labels"], d["critic"]])
    return {
        "model_summary (3 pairs, fleiss, alpha)": lambda: stats.model_summary(
            d["models"], n_categories=K
        ),
        "dispute_rates_by_label": lambda: stats.dispute_rates_by_label(d["labels"], n_categories=K),
        "dispute_rates per source": lambda: stats.dispute_rates(d["labels"], d["source"]),
        "human_summary emotion (nominal)": lambda: stats.human_summary(d["emotion"], numeric=False),
        "human_summary confidence (4 levels)": lambda: stats.human_summary(
            d["confidence"], numeric=True
        ),
        "agreement_with_consensus (20 annot.)": lambda: stats.agreement_with_consensus(
            d["emotion"]
        ),
        "agreement_with_reference gold": lambda: stats.agreement_with_reference(
            d["emotion"], d["gold"]
        ),
        "models+critic vs final label": lambda: stats.agreement_with_reference(
            with_critic, d["final"]
        ),
        "critic overturn rates": lambda: stats.rates_by_group(
            d["critic"] != d["final"], d["verdict"], counted=d["critic"] >= 0
        ),
        "calibration_summary x3 models": lambda: [
            stats.calibration_summary(d["model_conf"][name], labels == d["final"])
            for name, labels in d["models"].items()
        ],
        "throughput (438K decisions)": lambda: stats.throughput(d["who"], d["when"], d["spent"]),
    }


def extras(d: dict[str, Any]) -> dict[str, Callable[[], object]]:
    """Single functions, for comparison; not part of the dashboard total."""
    import krippendorff

    qwen, internvl = d["models"]["qwen"], d["models"]["internvl"]
    reliability = np.where(d["labels"] < 0, np.nan, d["labels"]).T
    return {
        "krippendorff_alpha models nominal": lambda: stats.krippendorff_alpha(
            d["labels"], level="nominal"
        ),
        "krippendorff_alpha confidence ordinal": lambda: stats.krippendorff_alpha(
            d["confidence"], level="ordinal"
        ),
        "cohen_kappa one pair": lambda: stats.cohen_kappa(qwen, internvl, n_categories=K),
        "confusion_matrix one pair": lambda: stats.confusion_matrix(qwen, internvl, n_categories=K),
        "majority_labels (20 annot.)": lambda: stats.majority_labels(d["emotion"]),
        "ref: krippendorff pkg models nominal": lambda: krippendorff.alpha(
            reliability_data=reliability, level_of_measurement="nominal"
        ),
    }


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `repeats` calls (CPU time shows a busy shared machine)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=219_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = make_data(args.units)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.units} units, {K} categories, median of {args.repeats} runs")
    print(f"{os.cpu_count()} cores, load average {load} (cpu ms is less affected by load)\n")
    print(f"{'dashboard figure':<42}{'wall ms':>9}{'cpu ms':>9}")
    total = total_cpu = 0.0
    for name, fn in figures(data).items():
        wall, cpu = median_seconds(fn, args.repeats)
        total, total_cpu = total + wall, total_cpu + cpu
        print(f"{name:<42}{wall * 1000:>9.1f}{cpu * 1000:>9.1f}")
    print(f"{'TOTAL (target <= 2000 ms)':<42}{total * 1000:>9.1f}{total_cpu * 1000:>9.1f}\n")
    print(f"{'single function (not in total)':<42}{'wall ms':>9}{'cpu ms':>9}")
    for name, fn in extras(data).items():
        wall, cpu = median_seconds(fn, args.repeats)
        print(f"{name:<42}{wall * 1000:>9.1f}{cpu * 1000:>9.1f}")


if __name__ == "__main__":
    main()
