"""COCO and EmoVerse JSONL export: speed and peak memory against CSV, as the dataset grows.

For each size N, export_memory.py's generator fills a throwaway SQLite database (3 proposals per
sample, adjudications, drop verdicts, a boxed region on half the samples); then every other
region gets a 640x480 mask (COCO RLE) and --des-share of the samples a DES vector. CSV (the
baseline, measured in the same run), JSONL and COCO are exported with scope "all", each in a
fresh process (export_memory.py's export child: growth = peak RSS minus RSS before the export).

    .venv/bin/python bench/export_coco_jsonl.py                       # 5K and 50K
    .venv/bin/python bench/export_coco_jsonl.py --sizes 2000 20000 --des-share 0.3
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

EXPORT_MEMORY = Path(__file__).resolve().parent / "export_memory.py"
FORMATS = ("csv", "jsonl", "coco")


def add_masks_and_des(data_dir: Path, des_share: float) -> None:
    _common.setup_django(data_dir)
    import numpy as np

    from annotator.lib.rle import encode_mask
    from annotator.models import Region, Sample

    yy, xx = np.mgrid[0:480, 0:640]
    ellipse = encode_mask(((yy - 240) / 150) ** 2 + ((xx - 320) / 200) ** 2 <= 1)
    ids = list(Region.objects.order_by("id").values_list("id", flat=True))
    Region.objects.filter(id__in=ids[::2]).update(mask=ellipse, segmenter="sam")
    vectors = np.random.default_rng(3)
    samples = Sample.objects.filter(des__isnull=True).order_by("id").only("id")
    chosen = [s for i, s in enumerate(samples) if (i * 7919 % 1000) / 1000 < des_share]
    for sample in chosen:
        sample.des = vectors.standard_normal(1024, dtype=np.float32).tobytes()
    Sample.objects.bulk_update(chosen, ["des"], batch_size=2000)


def run(args: list[str], script: Path = EXPORT_MEMORY) -> str:
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{script.name} {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def measure(size: int, *, batch_size: int, des_share: float) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="emoreview-bench-") as tmp:
        start = time.perf_counter()
        run(["--child-generate", str(size), "--dir", tmp, "--des-share", "0"])
        run(["--child-masks", tmp, "--des-share", str(des_share)], script=Path(__file__))
        print(f"N={size:,}: generated in {time.perf_counter() - start:.1f} s", flush=True)
        for fmt in FORMATS:
            line = run(["--child-export", fmt, "--dir", tmp, "--batch-size", str(batch_size)])
            results[fmt] = json.loads(line)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000])
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--des-share", type=float, default=1.0)
    parser.add_argument("--child-masks", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_masks:
        add_masks_and_des(args.child_masks, args.des_share)
        return
    print(
        f"Machine: {_common.machine()}; EXPORT_BATCH_SIZE={args.batch_size}, scope=all, "
        f"DES on {args.des_share:.0%} of samples, a mask on every other region\n"
    )
    table, growth = [], {}
    for size in args.sizes:
        results = measure(size, batch_size=args.batch_size, des_share=args.des_share)
        base = results["csv"]["cpu"]
        for fmt, r in results.items():
            growth[(size, fmt)] = r["growth"]
            table.append([
                f"{size:,}", fmt, int(r["rows"]), r["seconds"], r["cpu"], r["cpu"] / base,
                r["rows"] / r["cpu"], r["growth"], r["file_mib"],
            ])  # fmt: skip
    print()
    _common.print_table(
        ["N", "format", "rows", "wall s", "CPU s", "CPU / CSV's", "rows/CPU-s", "growth MiB",
         "file MiB"],
        table,
    )  # fmt: skip
    print(f"After the runs: {_common.load()}")
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        for fmt in FORMATS:
            a, b = growth[(small, fmt)], growth[(large, fmt)]
            print(f"{fmt}: peak growth at N={large:,} / N={small:,} = {b / a if a else 0:.2f}")


if __name__ == "__main__":
    main()
