"""Export speed and memory: does peak memory stay flat as the dataset grows?

For each size N: a throwaway SQLite database (temp dir) gets N samples with 3 proposals each
(DES on a share of them, adjudications, drop verdicts, boxed regions), then CSV and Parquet are
exported with scope "all" by export_to_path, each in its own process. Peak RSS growth is
ru_maxrss at the end minus RSS just before the export (after Django, pyarrow and the first query
are loaded), so it measures what the export itself holds.

    .venv/bin/python bench/export_memory.py                 # 10K and 100K (about 3 minutes)
    .venv/bin/python bench/export_memory.py --sizes 2000 20000 --batch-size 500
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
from bench._export_runs import (  # noqa: E402
    DATASET,
    child_line,
    make_export_dataset,
    measured_export,
)


def export(data_dir: Path, fmt: str, batch_size: int) -> dict[str, float]:
    os.environ["EXPORT_BATCH_SIZE"] = str(batch_size)
    _common.setup_django(data_dir)
    import pyarrow as pa
    import pyarrow.parquet  # loaded before the baseline, as a server would have it

    from annotator.selectors.datasets import dataset_by_name
    from review.services.export import export_to_path

    dataset = dataset_by_name(name=DATASET)
    assert dataset is not None
    out = data_dir / f"export.{fmt}"
    measured = measured_export(
        lambda: export_to_path(dataset=dataset, scope="all", fmt=fmt, path=out)
    )
    return {
        **measured,
        "arrow_peak": pa.default_memory_pool().max_memory() / 1024**2,
        "file_mib": out.stat().st_size / 1024**2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--des-share", type=float, default=0.3)
    parser.add_argument("--child-generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-export", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_generate:
        make_export_dataset(args.dir, args.child_generate, args.des_share)
        return
    if args.child_export:
        print(json.dumps(export(args.dir, args.child_export, args.batch_size)))
        return

    print(f"Machine: {_common.machine()}; EXPORT_BATCH_SIZE={args.batch_size}, scope=all\n")
    results: dict[tuple[int, str], dict[str, float]] = {}
    table = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="emoreview-bench-") as tmp:
            start = time.perf_counter()
            child_line(
                __file__,
                ["--child-generate", str(size), "--dir", tmp, "--des-share", str(args.des_share)],
            )
            print(f"N={size:,}: generated in {time.perf_counter() - start:.1f} s", flush=True)
            for fmt in ("csv", "parquet"):
                batch = str(args.batch_size)
                line = child_line(
                    __file__, ["--child-export", fmt, "--dir", tmp, "--batch-size", batch]
                )
                r = results[(size, fmt)] = json.loads(line)
                table.append(
                    [
                        f"{size:,}",
                        fmt,
                        int(r["rows"]),
                        r["seconds"],
                        r["cpu"],
                        r["rows"] / r["seconds"],
                        r["rows"] / r["cpu"],
                        r["rss_before"],
                        r["peak"],
                        r["growth"],
                        r["arrow_peak"],
                        r["file_mib"],
                    ]
                )
    print()
    _common.print_table(
        [
            "N",
            "format",
            "rows",
            "wall s",
            "CPU s",
            "rows/s (wall)",
            "rows/CPU-s",
            "RSS before MiB",
            "peak RSS MiB",
            "growth MiB",
            "Arrow pool peak MiB",
            "file MiB",
        ],
        table,
    )
    print(f"After the runs: {_common.load()}")
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        for fmt in ("csv", "parquet"):
            a, b = results[(small, fmt)]["growth"], results[(large, fmt)]["growth"]
            ratio = b / a if a else float("nan")
            print(f"{fmt}: peak growth at N={large:,} / N={small:,} = {ratio:.2f}")


if __name__ == "__main__":
    main()
