"""The Parquet export (typed schema: region structs, fixed-size DES, a struct per model) and the
datasheet beside it, against reading the same rows without writing them (same run).

A throwaway SQLite database (temp dir) gets N synthetic samples as bench/export_memory.py makes
them (3 proposals each, 30 % with DES, adjudications, drop verdicts, boxed regions). Then, each
in a fresh process:

- `read+DES` (the baseline): the label rows with DES in batches (export_rows), nothing written;
- `parquet`: the whole Parquet export (export_to_path, scope all);
- `datasheet cold`: datasheet_markdown in a fresh process (the audit's figures computed);
  `datasheet warm`: a second call in the same process (the audit's figures cached);
- `label map`: label_map_bytes.

    .venv/bin/python bench/export_parquet_datasheet.py                # N = 20,000
    .venv/bin/python bench/export_parquet_datasheet.py --size 219000  # EmoVerse's size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._export_runs import DATASET, make_export_dataset  # noqa: E402


def _timed(fn: object) -> dict[str, float]:
    start, cpu = time.perf_counter(), _common.cpu_seconds()
    result = fn()  # type: ignore[operator]
    return {
        "seconds": time.perf_counter() - start,
        "cpu": _common.cpu_seconds() - cpu,
        "size": float(len(result) if isinstance(result, bytes | str) else result),
    }


def run(data_dir: Path, task: str) -> dict[str, dict[str, float]]:
    _common.setup_django(data_dir)
    import pyarrow as pa
    import pyarrow.parquet  # loaded before timing, as a server would have it

    pa.array([1])  # pyarrow imports pandas on its first conversion (~1.5 s): not the export's

    from annotator.selectors.datasets import dataset_by_name
    from review.services.export import export_to_path
    from review.services.export_datasheet import datasheet_markdown
    from review.services.export_labelmap import label_map_bytes
    from review.services.export_rows import iter_export_batches

    dataset = dataset_by_name(name=DATASET)
    assert dataset is not None
    if task == "read":
        batches = iter_export_batches(dataset=dataset, scope="all", with_des=True)
        return {"read+DES": _timed(lambda: sum(len(b) for b in batches))}
    if task == "parquet":
        out = data_dir / "export.parquet"
        timing = _timed(
            lambda: export_to_path(dataset=dataset, scope="all", fmt="parquet", path=out)
        )
        timing["file_mib"] = out.stat().st_size / 1024**2
        return {"parquet": timing}
    sheet = lambda: datasheet_markdown(dataset=dataset, scope="all", fmt="parquet")  # noqa: E731
    return {
        "datasheet cold": _timed(sheet),
        "datasheet warm": _timed(sheet),
        "label map": _timed(lambda: label_map_bytes(dataset=dataset)),
    }


def child(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--child-generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-task", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_generate:
        make_export_dataset(args.dir, args.child_generate, 0.3)
        return
    if args.child_task:
        print(json.dumps(run(args.dir, args.child_task)))
        return
    print(f"Machine: {_common.machine()}; N={args.size:,}, scope all\n")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="emoreview-bench-") as tmp:
        start = time.perf_counter()
        child(["--child-generate", str(args.size), "--dir", tmp])
        print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
        for task in ("read", "parquet", "datasheet"):
            results |= json.loads(child(["--child-task", task, "--dir", tmp]))
    base = results["read+DES"]["seconds"]
    rows = [
        [name, r["seconds"], r["cpu"], r["seconds"] / base, r.get("file_mib", "")]
        for name, r in results.items()
    ]
    _common.print_table(["task", "wall s", "CPU s", "wall / read+DES", "file MiB"], rows)
    print(f"After the runs: {_common.load()}")


if __name__ == "__main__":
    main()
