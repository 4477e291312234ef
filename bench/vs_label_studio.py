"""EmoReview beside Label Studio on the same generated EmoVerse data: import, list page (1 and 16
clients), filtered list, export; a ratio per row (Label Studio's figure / ours: above 1 we are
faster).

Data: N EmoVerse records (2 model proposals each, about 30% disagreeing, a 1024-d DES, one box
per proposal, a critic verdict on a tenth), naming `--images` distinct 640x480 JPEGs. EmoReview
imports the JSONL file (import_samples_file, in this process: its CPU time and its parse
workers'); Label Studio gets the same records as tasks (data: image, source, DES; one
prediction per model with the emotion, confidence, B-A-S, description and box, as our export
writes them) through its import API in `--ls-chunk` tasks per request (its server's CPU time,
from /proc).

Servers: EmoReview under gunicorn as docker/entrypoint.sh starts it (bench/_queue_load.py),
Label Studio 1.23 on its default SQLite under gunicorn (bench/_labelstudio.py), both with
`--workers` sync workers. Pages: ours is the review queue (disputed samples of the dataset,
25 a page), Label Studio's the Data Manager's task list (/api/tasks, 30 a page, the whole
project); filtered: source = FI on both (Label Studio: a Data Manager view with that filter).
Export: ours the Label Studio JSON format and CSV of every sample, theirs the project's JSON
export (/api/projects/ID/export).

    .venv/bin/python bench/vs_label_studio.py --install          # once: Label Studio's venv
    .venv/bin/python bench/vs_label_studio.py --sizes 2000       # a quick look (~3 min)
    .venv/bin/python bench/vs_label_studio.py                    # 10K and 50K
    .venv/bin/python bench/vs_label_studio.py --full             # adds 219K

Each size runs in a child process; a SIGTERM or an error stops both servers (and their
workers) before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common, _labelstudio  # noqa: E402
from bench._vs_sides import EmoReviewSide, LabelStudioSide  # noqa: E402

FULL = 219_000
FILTER_SOURCE = "FI"


def make_records(path: Path, *, count: int, images: int, seed: int = 5) -> None:
    """`count` EmoVerse records (JSON Lines), two proposals each, DES on every one."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            first = rng.choice(_common.EMOTIONS)
            second = rng.choice(_common.EMOTIONS) if rng.random() < 0.3 else first
            record: dict[str, Any] = {
                "id": f"ev-{i:07d}",
                "image_path": f"{rng.randrange(images):05d}.jpg",
                "source": rng.choice(_common.SOURCES[:5]) if i % 7 else FILTER_SOURCE,
                "DES": [round(rng.gauss(0, 0.05), 6) for _ in range(1024)],
                "proposals": [_proposal(rng, model, emotion) for model, emotion in
                              (("gpt-4o", first), ("gemini-2.5", second))],
            }  # fmt: skip
            if rng.random() < 0.1:
                record["critic"] = {"verdict": "preserve", "emotion": first, "reasoning": "fits"}
            out.write(json.dumps(record) + "\n")


def _proposal(rng: random.Random, model: str, emotion: str) -> dict[str, Any]:
    x, y = rng.randrange(0, 300), rng.randrange(0, 200)
    return {
        "model": model,
        "description": f"A lone hiker faces a vast glacier; {model} reads it as {emotion}.",
        "emotion": emotion,
        "confidence": round(rng.uniform(3, 10), 1),
        "B-A-S": "vast glacier - tiny, still - hiker",
        "bbox": [x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 250)],
    }


def one_size(args: argparse.Namespace, size: int, work: Path) -> dict[str, Any]:
    """Both sides at one size, in this (child) process: Django on a fresh SQLite file."""
    records, images = work / f"emoverse-{size}.jsonl", work / "images"
    results: dict[str, Any] = {"size": size}
    ours = EmoReviewSide(work / f"emoreview-{size}", images, workers=args.workers)
    theirs = LabelStudioSide(
        work / f"labelstudio-{size}", images, workers=args.workers, with_des=not args.ls_without_des
    )
    with ours, theirs:
        for name, side in (("emoreview", ours), ("labelstudio", theirs)):
            results[name] = {"import": side.load(records, chunk=args.ls_chunk)}
            _say(f"  {name}: import {results[name]['import']}")
        for name, side in (("emoreview", ours), ("labelstudio", theirs)):
            side.serve()
            got = results[name]
            got["page"] = side.single("page", runs=args.runs)
            got["filtered"] = side.single("filtered", runs=args.runs)
            got["page16"] = side.concurrent(clients=args.clients, seconds=args.seconds)
            got["export"] = side.export(work / f"{name}-{size}-export")
            side.stop_server()
            _say(f"  {name}: {json.dumps({k: v for k, v in got.items() if k != 'import'})}")
    return results


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def child(args: argparse.Namespace) -> None:
    size, work = args.child, args.keep
    os.environ["IMPORT_ROOTS"] = str(work / "images")
    os.environ.pop("DATABASE_URL", None)  # setup_django points it at a fresh file
    _common.setup_django(work / f"django-{size}")
    _common.migrate()
    print(json.dumps(one_size(args, size, work)), flush=True)


def run_child(args: argparse.Namespace, size: int, work: Path) -> dict[str, Any]:
    """One size in a fresh process (a fresh database and memory); ended with us."""
    command = [sys.executable, __file__, "--child", str(size), "--keep", str(work)]
    for flag in ("workers", "clients", "seconds", "runs", "ls_chunk"):
        command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    command += ["--ls-without-des"] if args.ls_without_des else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = process.communicate()
    finally:
        if process.poll() is None:  # we were stopped: stop it (it stops its servers)
            process.terminate()
            process.wait(timeout=60)
    if process.returncode:
        sys.exit(f"the {size:,}-sample run failed (exit {process.returncode}); see above")
    return dict(json.loads(out.strip().splitlines()[-1]))


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    des = "without DES" if args.ls_without_des else "with DES"
    print(f"\nEmoReview vs Label Studio {_labelstudio.VERSION} (SQLite both, gunicorn "
          f"{args.workers} workers; LS tasks {des}); {_common.machine()}")  # fmt: skip
    rows = []
    for r in results:
        ours, theirs, n = r["emoreview"], r["labelstudio"], f"{r['size']:,}"
        for label, key, field in (
            ("import, wall s", "import", "wall"),
            ("import, CPU s (LS: server)", "import", "cpu"),
            ("list page, 1 client, p50 ms", "page", "p50"),
            ("list page, 1 client, server CPU ms", "page", "cpu"),
            ("filtered list, 1 client, p50 ms", "filtered", "p50"),
            (f"list page, {args.clients} clients, p50 ms", "page16", "p50"),
            (f"list page, {args.clients} clients, p95 ms", "page16", "p95"),
            ("export JSON (LS tasks), wall s", "export", "json_wall"),
            ("export JSON, server CPU s", "export", "json_cpu"),
            ("export JSON, MB", "export", "json_mb"),
        ):
            a, b = ours[key][field], theirs[key][field]
            rows.append([n, label, a, b, f"{b / a:.1f}x" if a else "-"])
        theirs_wall = theirs["export"]["json_wall"]
        for fmt in ("csv", "parquet"):
            wall = ours["export"][f"{fmt}_wall"]
            rows.append([n, f"export {fmt.upper()} (ours) vs JSON (LS), wall s", wall,
                         theirs_wall, f"{theirs_wall / wall:.1f}x"])  # fmt: skip
    _common.print_table(["samples", "what", "EmoReview", "Label Studio", "LS / ours"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="create .bench/label-studio-venv")
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated sample counts")
    parser.add_argument("--full", action="store_true", help=f"add {FULL:,} samples (EmoVerse)")
    parser.add_argument("--images", type=int, default=1000, help="distinct image files")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers, each side")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrent phase")
    parser.add_argument("--runs", type=int, default=20, help="single-client requests")
    parser.add_argument("--ls-chunk", type=int, default=10_000, help="LS tasks per import call")
    parser.add_argument(
        "--ls-without-des",
        action="store_true",
        help="leave DES out of Label Studio's tasks (as issue 12's figures did)",
    )
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    if args.child:
        child(args)
        return
    if args.install:
        print(_labelstudio.ensure_installed())
        return
    if _labelstudio.installed_version() != _labelstudio.VERSION:
        sys.exit(f"needs label-studio=={_labelstudio.VERSION} in {_labelstudio.VENV}: run "
                 f"{sys.argv[0]} --install first")  # fmt: skip
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | ({FULL} if args.full else set()))
    work = args.keep or Path(tempfile.mkdtemp(prefix="emoreview-vs-ls-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        _common.make_jpegs(work / "images", args.images)
        results = []
        for size in sizes:
            records = work / f"emoverse-{size}.jsonl"
            make_records(records, count=size, images=args.images)
            _say(f"{size:,} records: {records.stat().st_size / 1024**2:,.0f} MB")
            results.append(run_child(args, size, work))
            records.unlink()
        report(results, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
