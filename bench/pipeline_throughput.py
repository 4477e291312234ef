"""Pipeline orchestration overhead: samples per second through annotate -> verify -> critic.

A setting is pool:concurrency[xN][+unit][+typed|+batch][@REF]: N worker processes; "@REF" runs
the workers on the code of git commit REF (`git archive`d to a temporary folder: the baseline of
a change, measured in the same run; the schema must be the same); "+unit" sends every
unit as its own task (PIPELINE_CHUNK_UNITS=1: the grain before chunks, the baseline), plain
settings send model-stage units PIPELINE_CHUNK_UNITS (16) to a task (annotator/pipeline/runs/
chunk.py); "+typed" runs the workers with EMOREVIEW_OPENAI_TYPED_CALLS=1 (chat.completions.create
instead of the lower-level post); "+batch" sets mode = "batch" on every endpoint and runs a real
beat polling every second.

A real Celery worker (threads or prefork pool, 1/4/8) over Redis and PostgreSQL runs a pipeline
run of --samples samples with 2 annotators and a critic, all answered at once by the loopback
OpenAI-compatible server (so model latency is zero and what is measured is the orchestration:
messages, claims, queries, the openai client, JSON). Each setting gets a fresh dataset, so no
work is skipped. Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
    .venv/bin/python bench/pipeline_throughput.py [--settings threads:8x2@HEAD~3 ...]

A throwaway database (emoreview_bench_<pid>) is created next to DATABASE_URL's and dropped at
the end; the broker's Redis database is flushed before each setting, so give it one of its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)  # the repo root, not bench/

from bench._common import (  # noqa: E402
    load,
    print_table,
    required_postgres_and_redis,
    scratch_postgres,
    setup_django_migrated,
)
from bench._pipeline_procs import beat, endpoint_process, tree_cpu, workers  # noqa: E402

STAGES = "annotate,verify,critic"
CONFIG = """\
[defaults]
timeout_s = 30
max_retries = 3
concurrency = 64

[annotators.gpt4o]
base_url = "{url}"
model = "gpt-4o-bench"

[annotators.gemini]
base_url = "{url}"
model = "gemini-bench"

[critic]
base_url = "{url}"
model = "critic-bench"

[pipeline]
max_revise_rounds = 0
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--settings",
        nargs="+",
        default=[
            "threads:8+unit", "threads:8", "threads:8x2+unit+typed", "threads:8x2+unit",
            "threads:8x2", "threads:8x2+unit+batch", "threads:8x2+batch",
        ],
        help="pool:concurrency[xN][+unit][+typed|+batch][@REF]: N worker processes, on the code "
        "of commit REF; see the docstring",
    )  # fmt: skip
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    parser.add_argument(
        "--image-size",
        type=lambda text: tuple(int(side) for side in text.split("x")),
        default=(64, 48),
        metavar="WxH",
        help="the samples' images (default 64x48: orchestration, not encoding; 1024x768 for "
        "photo-sized images, downscaled to 768 px like a real run)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="TOP",
        help="instead of the settings: run --samples samples' chunks in this process (calls in "
        "this thread) under cProfile with a CPU clock and print the TOP functions",
    )
    return parser.parse_args()


def make_images(root: Path, count: int, size: tuple[int, int]) -> None:
    """Distinct images (small by default: the bench measures orchestration, not JPEG encoding);
    files already there are kept."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = root / f"{index:05d}.png"
        if not path.exists():
            colour = (index % 256, (index // 256) % 256, 128)
            Image.new("RGB", size, colour).save(path)


def make_dataset(name: str, root: Path, count: int, size: tuple[int, int]) -> Any:
    from annotator.models import Dataset, Sample, Taxonomy

    dataset = Dataset.objects.create(
        name=name, taxonomy=Taxonomy.objects.get(name="mikels8"), images_root=str(root)
    )
    Sample.objects.bulk_create(
        Sample(
            dataset=dataset, external_id=f"s-{i:05d}", image_path=f"{i:05d}.png", width=size[0],
            height=size[1], content_hash=f"{i:064x}",
        )
        for i in range(count)
    )  # fmt: skip
    return dataset


def parse_setting(text: str) -> tuple[str, int, int, str, str, str]:
    """ "threads:4" -> ("threads", 4, 1, "bytes", "chunk", "");
    "threads:4x2+unit+batch@abc123" -> ("threads", 4, 2, "batch", "unit", "abc123")."""
    text, _, ref = text.partition("@")
    text, *flags = text.split("+")
    pool, _, rest = text.partition(":")
    concurrency, _, count = rest.partition("x")
    calls = next((flag for flag in flags if flag in ("typed", "batch")), "bytes")
    grain = "unit" if "unit" in flags else "chunk"
    return pool, int(concurrency), int(count or 1), calls, grain, ref


def code_tree(ref: str, ctx: dict[str, Any]) -> Path:
    """The repository at commit `ref`, extracted once a run (the working tree for "")."""
    if not ref:
        return REPO
    folder = ctx["images"].parent / f"code-{ref.replace('/', '_').replace('~', '_')}"
    if not folder.exists():
        folder.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(setting: str, *, args: argparse.Namespace, ctx: dict[str, Any]) -> list:
    from annotator.celery import app
    from annotator.models import PipelineRun
    from annotator.pipeline.config import load_pipeline_config
    from annotator.services.pipeline_runs import launch_pipeline_run, start_pipeline_run

    pool, concurrency, count, calls, grain, ref = parse_setting(setting)
    app.control.purge()
    name = f"bench-{setting.replace(':', '-').replace('+', '-').replace('@', '-')}"
    # The warm-up's images are other files: a worker's encoded-image cache (adapters/images.py)
    # starts the measured run without them.
    warm_count, warm_root = 4 * concurrency * count, ctx["images"].parent / "warm-up"
    make_images(warm_root, warm_count, args.image_size)
    warm_up = make_dataset(f"{name}-warm-up", warm_root, warm_count, args.image_size)
    dataset = make_dataset(name, ctx["images"], args.samples, args.image_size)
    config = load_pipeline_config(path=ctx["batch_config" if calls == "batch" else "config"])
    env = dict(ctx["env"], EMOREVIEW_OPENAI_TYPED_CALLS="1" if calls == "typed" else "0")
    if grain == "unit":
        env["PIPELINE_CHUNK_UNITS"] = "1"
    env["PIPELINE_BATCH_POLL_SECONDS"] = "1"
    code = code_tree(ref, ctx)

    def run_to_end(started: Any) -> float:
        """Dispatch, wait until done; returns the dispatch time."""
        begin = time.perf_counter()
        launch_pipeline_run(started=started)
        dispatched = time.perf_counter() - begin
        run = started.run
        while run.status == PipelineRun.Status.RUNNING:
            time.sleep(0.02)
            run.refresh_from_db(fields=["status"])
        return dispatched

    with ExitStack() as stack:
        pids = stack.enter_context(workers(pool, concurrency, count, env, code))
        if calls == "batch":
            stack.enter_context(beat(env, ctx["images"].parent, code))
        # Each worker process (and pool child) imports the adapters and opens its clients and
        # database connection on its first units: a warm-up run, so the table shows the steady
        # state.
        run_to_end(start_pipeline_run(dataset=warm_up, config=config, stages=STAGES))
        started = start_pipeline_run(dataset=dataset, config=config, stages=STAGES)
        cpu_before = tree_cpu(pids)
        begin = time.perf_counter()
        dispatched = run_to_end(started)
        wall = time.perf_counter() - begin
        worker_cpu = tree_cpu(pids) - cpu_before
    run = started.run
    units = run.results.count()
    failed = run.results.filter(status="failed").count()
    rates = [round(args.samples / wall, 1), round(units / wall, 1)]
    return [
        pool, concurrency, count, grain, calls, args.samples, units, round(wall, 2), *rates,
        round(dispatched, 2), round(worker_cpu, 1), round(1000 * worker_cpu / args.samples, 1),
        failed, ref or "tree",
    ]  # fmt: skip


def profile_chunks(*, args: argparse.Namespace, ctx: dict[str, Any]) -> None:
    """Where a chunk's CPU goes: the chunks a worker would run, run here in order (the calls in
    this thread, so cProfile sees them), after a warm-up run of 16 samples."""
    import cProfile
    import pstats

    from django.conf import settings

    from annotator.adapters.images import image_cache
    from annotator.pipeline.config import load_pipeline_config
    from annotator.pipeline.runs.chunk import execute_chunk
    from annotator.pipeline.runs.dispatch import messages
    from annotator.services.pipeline_runs import start_pipeline_run

    settings.PIPELINE_CHUNK_THREADS = 1
    config = load_pipeline_config(path=ctx["config"])

    def drive(count: int, name: str) -> None:
        image_cache.clear()  # each drive reads and encodes its images, as a fresh worker would
        dataset = make_dataset(name, ctx["images"], count, args.image_size)
        started = start_pipeline_run(dataset=dataset, config=config, stages=STAGES)
        refs = list(started.report.start)
        while refs:
            stage, ids = messages(refs)[0]
            refs = [ref for ref in refs if ref.id not in set(ids)]
            refs += execute_chunk(stage=stage, unit_ids=ids).next_units

    drive(16, "profile-warm-up")
    begin = time.process_time()
    drive(args.samples, "unprofiled")
    cpu = time.process_time() - begin
    print(f"unprofiled: {cpu:.2f} s CPU, {1000 * cpu / args.samples:.1f} ms a sample")
    profiler = cProfile.Profile(time.process_time)
    begin = time.process_time()
    profiler.runcall(drive, args.samples, "profile")
    cpu = time.process_time() - begin
    print(f"{args.samples} samples: {cpu:.2f} s CPU, {1000 * cpu / args.samples:.1f} ms a sample")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.profile)
    stats.sort_stats("cumulative").print_stats(args.profile)
    stats.print_stats(r"/annotator/", args.profile)  # the project's own functions


def main() -> None:
    args = parse_args()
    database, broker = required_postgres_and_redis()
    with (
        tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp,
        scratch_postgres(database, prefix="emoreview_bench", keep=args.keep_db) as bench_url,
    ):
        tmp_path = Path(tmp)
        setup_django_migrated(tmp_path / "data")
        make_images(tmp_path / "images", args.samples, args.image_size)
        with endpoint_process() as url:
            config = tmp_path / "pipeline.toml"
            config.write_text(CONFIG.format(url=url))
            batch_config = tmp_path / "pipeline-batch.toml"
            batch_config.write_text(
                CONFIG.format(url=url).replace("[defaults]\n", '[defaults]\nmode = "batch"\n')
            )
            env = dict(os.environ, DATABASE_URL=bench_url, CELERY_BROKER_URL=broker)
            ctx = {
                "images": tmp_path / "images", "config": config, "batch_config": batch_config,
                "env": env,
            }  # fmt: skip
            print(
                f"{os.cpu_count()} cores; {load()}; PostgreSQL + Redis on this machine; "
                f"{args.samples} samples a setting, stages {STAGES}, 2 annotators + critic, "
                f"images {args.image_size[0]}x{args.image_size[1]}"
            )
            if args.profile:
                profile_chunks(args=args, ctx=ctx)
                return
            rows = [measure(setting, args=args, ctx=ctx) for setting in args.settings]
    headers = [
        "pool", "concurrency", "processes", "grain", "calls", "samples", "units", "wall s",
        "samples/s", "units/s", "dispatch s", "worker CPU s", "worker CPU ms/sample", "failed",
        "code",
    ]  # fmt: skip
    print_table(headers, rows)
    print_ratios(rows)
    print_code_ratios(rows)
    print(f"after: {load()}")


def print_ratios(rows: list[list[Any]]) -> None:
    """Each chunk setting against its +unit baseline of the same run (same pool, processes,
    calls): samples/s and worker CPU a sample."""
    baseline = {(r[0], r[1], r[2], r[4], r[14]): r for r in rows if r[3] == "unit"}
    ratios = []
    for row in rows:
        base = baseline.get((row[0], row[1], row[2], row[4], row[14]))
        if row[3] == "chunk" and base is not None:
            ratios.append([
                f"{row[0]}:{row[1]}x{row[2]} {row[4]}", base[8], row[8], round(row[8] / base[8], 2),
                base[12], row[12], round(row[12] / base[12], 2),
            ])  # fmt: skip
    if ratios:
        print_table(
            ["setting", "unit samples/s", "chunk samples/s", "ratio", "unit CPU ms/sample",
             "chunk CPU ms/sample", "CPU ratio"],
            ratios,
        )  # fmt: skip


def print_code_ratios(rows: list[list[Any]]) -> None:
    """A setting on other code against the same setting's first row (on its @REF, or the
    working tree): a change against its baseline."""
    baseline: dict[tuple[Any, ...], list[Any]] = {}
    ratios = []
    for row in rows:
        base = baseline.setdefault(tuple(row[:5]), row)
        if row[14] != base[14]:
            ratios.append([
                f"{row[0]}:{row[1]}x{row[2]} {row[3]} {row[4]}", base[14], row[14], base[8], row[8],
                round(row[8] / base[8], 2), base[12], row[12], round(row[12] / base[12], 2),
            ])  # fmt: skip
    if ratios:
        print_table(
            ["setting", "baseline", "code", "its samples/s", "samples/s", "ratio",
             "its CPU ms/sample", "CPU ms/sample", "CPU ratio"],
            ratios,
        )  # fmt: skip


if __name__ == "__main__":
    main()
