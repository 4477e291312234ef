"""Answers export speed and memory: is peak memory flat as the number of answers grows?

For each size N (votes): a throwaway SQLite database (temp dir) gets N/3 placeholder samples
with 3 binary votes each (EmoNet-Face's shape: ~3.3 votes per image) plus one app answer per
tenth sample; then the answers export is written as CSV and as Parquet by export_answers_to_path,
each in its own process. Baseline in the same run: the label CSV export (export_to_path, scope
all) of the same samples. Peak RSS growth is ru_maxrss at the end minus RSS just before the
export (Django, pyarrow and the first query loaded).

    .venv/bin/python bench/export_answers.py                  # 65,686 and 262,744 votes
    .venv/bin/python bench/export_answers.py --sizes 3000 30000 --batch-size 500
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._export_runs import child_line, measured_export  # noqa: E402

DATASET = "bench-answers"
EMOTIONS = ["Anger", "Awe", "Bitterness", "Contentment", "Doubt", "Elation"]


def generate(data_dir: Path, votes: int) -> None:
    _common.setup_django(data_dir)
    _common.migrate()
    from django.contrib.auth import get_user_model

    from annotator.models import Dataset, Sample, Taxonomy
    from review.models import Annotation, BinaryVote

    people = [get_user_model().objects.create(username=f"human-{i}") for i in range(1, 8)]
    dataset = Dataset.objects.create(name=DATASET, taxonomy=Taxonomy.objects.get(name="mikels8"))
    count = max(votes // 3, 1)
    for start in range(0, count, 5000):
        samples = Sample.objects.bulk_create(
            Sample(dataset=dataset, external_id=f"{i:06d}", image_path=f"{i:06d}", width=0,
                   height=0, content_hash="", status=Sample.Status.PENDING)
            for i in range(start, min(start + 5000, count))
        )  # fmt: skip
        BinaryVote.objects.bulk_create(
            BinaryVote(sample=s, annotator=people[(s.pk + k) % 7], emotion=EMOTIONS[s.pk % 6],
                       value=bool((s.pk + k) % 2), source="import")
            for s in samples for k in range(3)
        )  # fmt: skip
        Annotation.objects.bulk_create(
            Annotation(sample=s, annotator=people[s.pk % 7], emotion="awe", confidence=7,
                       notes="a note", time_spent_ms=1200)
            for s in samples if s.pk % 10 == 0
        )  # fmt: skip


def export(data_dir: Path, what: str, batch_size: int) -> dict[str, float]:
    os.environ["EXPORT_BATCH_SIZE"] = str(batch_size)
    _common.setup_django(data_dir)
    import pyarrow.parquet  # noqa: F401  loaded before the baseline, as a server would have it

    from annotator.selectors.datasets import dataset_by_name
    from review.services.export import export_to_path
    from review.services.export_answers import export_answers_to_path

    dataset = dataset_by_name(name=DATASET)
    assert dataset is not None
    out = data_dir / f"export-{what}"
    if what == "labels-csv":
        measured = measured_export(
            lambda: export_to_path(dataset=dataset, scope="all", fmt="csv", path=out)
        )
    else:
        fmt = what.split("-")[1]
        measured = measured_export(
            lambda: export_answers_to_path(dataset=dataset, fmt=fmt, path=out)
        )
    return {
        **measured,
        "file_mib": out.stat().st_size / 1024**2,
    }


WHAT = ("labels-csv", "answers-csv", "answers-parquet")


def run_size(size: int, batch_size: int) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="emoreview-bench-") as tmp:
        start = time.perf_counter()
        child_line(__file__, ["--child-generate", str(size), "--dir", tmp])
        print(f"N={size:,} votes: generated in {time.perf_counter() - start:.1f} s", flush=True)
        for what in WHAT:
            line = child_line(
                __file__, ["--child-export", what, "--dir", tmp, "--batch-size", str(batch_size)]
            )
            results[what] = json.loads(line)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[65_686, 262_744])
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--child-generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-export", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_generate:
        generate(args.dir, args.child_generate)
        return
    if args.child_export:
        print(json.dumps(export(args.dir, args.child_export, args.batch_size)))
        return

    print(f"Machine: {_common.machine()}; EXPORT_BATCH_SIZE={args.batch_size} (samples)\n")
    results = {size: run_size(size, args.batch_size) for size in args.sizes}
    table = []
    for size, by_what in results.items():
        base = by_what["labels-csv"]
        for what, r in by_what.items():
            table.append([
                f"{size:,}", what, int(r["rows"]), r["seconds"], r["cpu"], r["rows"] / r["cpu"],
                r["cpu"] / base["cpu"], r["growth"], r["file_mib"],
            ])  # fmt: skip
    print()
    _common.print_table(
        ["N votes", "export", "rows", "wall s", "CPU s", "rows/CPU-s",
         "CPU / labels CSV", "growth MiB", "file MiB"],
        table,
    )  # fmt: skip
    print(f"After the runs: {_common.load()}")
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        for what in WHAT:
            a, b = results[small][what]["growth"], results[large][what]["growth"]
            print(f"{what}: peak growth at N={large:,} / N={small:,} = {b / a if a else 0:.2f}")


if __name__ == "__main__":
    main()
