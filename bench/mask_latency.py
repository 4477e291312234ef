"""Click-to-refine latency end to end: click saved -> mask ready to draw, against bare SAM.

A vit_b SAM with random weights (the decoder's cost does not depend on the values) is saved once
as a checkpoint file, so the worker loads it through the app's real path (SEGMENTER=sam,
SAM_CHECKPOINT). The script starts a real Celery worker on the gpu queue (solo pool, prefetch 1)
over the running Redis, has it encode two 768x512 images through the prefetch task (~20-30 s
each on 2 cores), then times what a browser sees:

- POST of the click through Django's test client (the view saves the edit, queues it on commit,
  and waits for the worker's Redis wake-up), polling further only if the answer is "pending";
- for 1, 3 and 5 clicks (the earlier clicks of a prompt are posted first, untimed);
- in the same run, alternating with the above, the bare `SamPredictor.predict` on the same
  prompts in this process (embedding restored from the same cache);
- the first click on a prefetched sample (the worker restores its cached embedding) against a
  click on the image the worker already holds.

    .venv/bin/python bench/mask_latency.py               # ~5-7 minutes on 2 cores
    .venv/bin/python bench/mask_latency.py --runs 10 --broker redis://127.0.0.1:6379/12
    .venv/bin/python bench/mask_latency.py --decoder torch   # the worker decodes in torch

The worker runs the app's default SEGMENTER=sam, SAM_DECODER=auto: on this CPU the decoder runs
in onnxruntime; --decoder torch (or onnx) sets SAM_DECODER.

The last line printed is one JSON object: p50_ms, p95_ms, decoder_p50_ms, ratio (end-to-end
p50 over bare decoder p50), response_bytes (bytes the browser downloads per click), and more.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

CLICKS = [(380.0, 250.0), (300.0, 200.0), (450.0, 300.0), (100.0, 60.0), (700.0, 480.0)]
LABELS = [1, 1, 1, 0, 0]
IMAGES = ["chelsea.jpg", "coffee.jpg"]
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
CLICK_TIMEOUT_S = 120


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def configure(data_dir: Path, args: argparse.Namespace) -> Path:
    """Environment for this process and the worker, before Django reads its settings."""
    checkpoint = data_dir / f"sam_{args.model_type}_random.pth"
    os.environ.update(
        CELERY_BROKER_URL=args.broker,
        SEGMENTER="sam",
        SAM_DECODER=args.decoder,
        SAM_MODEL_TYPE=args.model_type,
        SAM_CHECKPOINT=str(checkpoint),
        SAM_DEVICE="cpu",
        EMBEDDING_CACHE_URL=f"file://{data_dir / 'embeddings'}",
        MASK_WAIT_SECONDS="10",
        MASK_BACKGROUND_TASKS="0",
        LOG_LEVEL="WARNING",
    )
    _common.setup_django(data_dir)
    return checkpoint


def save_random_checkpoint(path: Path, model_type: str) -> None:
    from annotator.adapters.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    import torch
    from segment_anything import sam_model_registry

    torch.save(sam_model_registry[model_type](checkpoint=None).state_dict(), path)


def make_samples(data_dir: Path, size: tuple[int, int]) -> tuple[Any, list[Any], list[np.ndarray]]:
    from django.contrib.auth import get_user_model
    from PIL import Image

    from annotator.models import Dataset, Sample, Taxonomy
    from annotator.taxonomy import MIKELS_8

    root = data_dir / "images"
    root.mkdir()
    dataset = Dataset.objects.create(
        name="bench", taxonomy=Taxonomy.objects.get(name=MIKELS_8), images_root=str(root)
    )
    samples, images = [], []
    for i, name in enumerate(IMAGES):
        source = _common.REPO / "annotator" / "demo" / "images" / name
        image = Image.open(source).convert("RGB").resize(size)
        image.save(root / f"{i}.png")
        images.append(np.asarray(image))
        samples.append(
            Sample.objects.create(
                dataset=dataset, external_id=f"bench-{i}", image_path=f"{i}.png",
                width=size[0], height=size[1], content_hash=f"bench-image-{i}",
                status=Sample.Status.DISPUTED,
            )
        )  # fmt: skip
    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "x")
    return user, samples, images


def prefetch(sample: Any, cache_dir: Path, worker: Any) -> float:
    """Queue the prefetch task and wait for the embedding file; seconds it took."""
    from review.services.masks import prefetch_embeddings
    from tests.support.celery_worker import wait_until

    before = len(list(cache_dir.glob("*.npy"))) if cache_dir.exists() else 0
    start = time.perf_counter()
    prefetch_embeddings(sample_ids=[sample.pk])
    wait_until(
        lambda: cache_dir.exists() and len(list(cache_dir.glob("*.npy"))) > before,
        worker=worker, timeout=300, every=0.05,
    )  # fmt: skip
    return time.perf_counter() - start


class Browser:
    """Clicks as htmx sends them, through Django's test client, until the mask is drawable."""

    def __init__(self, user: Any) -> None:
        from django.test import Client

        self.client = Client()
        self.client.force_login(user)

    def click(self, sample: Any, point: tuple[float, float], label: int, reset: bool) -> int:
        """POST one click; returns the bytes downloaded until the mask was ready."""
        from django.urls import reverse

        url = reverse("review:mask_edit", args=[sample.pk, "subject"])
        data = {"x": point[0], "y": point[1], "label": label, "reset": "1" if reset else ""}
        response = self.client.post(url, data, **HTMX)
        body = response.content
        total = len(body)
        deadline = time.monotonic() + CLICK_TIMEOUT_S
        while b"mask-progress" in body:  # still computing: poll as the partial would
            if time.monotonic() > deadline:
                raise RuntimeError(f"no mask after {CLICK_TIMEOUT_S} s: is the worker consuming?")
            poll = body.split(b'hx-get="', 1)[1].split(b'"', 1)[0].decode().replace("&amp;", "&")
            body = self.client.get(poll, **HTMX).content
            total += len(body)
        if response.status_code != 200 or b'data-status="done"' not in body:
            raise RuntimeError(f"click failed: {response.status_code} {body[:300]!r}")
        return total

    def prompt(self, sample: Any, n: int) -> tuple[float, int]:
        """Post clicks 1..n-1 untimed, then time click n; (ms, bytes of click n)."""
        for i in range(n - 1):
            self.click(sample, CLICKS[i], LABELS[i], reset=i == 0)
        start = time.perf_counter()
        size = self.click(sample, CLICKS[n - 1], LABELS[n - 1], reset=n == 1)
        return (time.perf_counter() - start) * 1000, size


def bare_predictor(args: argparse.Namespace, checkpoint: Path, image: np.ndarray) -> Any:
    from annotator.adapters.segmenters.sam import SamSegmenter
    from annotator.lib.embedding_cache import get_embedding_cache

    segmenter = SamSegmenter.from_checkpoint(
        model_type=args.model_type, checkpoint=checkpoint, device="cpu",
        cache=get_embedding_cache(),
    )  # fmt: skip
    if not segmenter.prepare(image=image, image_key="bench-image-0"):
        raise RuntimeError("the bench process had to encode: the worker's cache was not found")
    return segmenter._predictor


def time_predict(predictor: Any, n: int) -> float:
    start = time.perf_counter()
    predictor.predict(
        point_coords=np.array(CLICKS[:n]), point_labels=np.array(LABELS[:n]), multimask_output=True
    )
    return (time.perf_counter() - start) * 1000


def measure_clicks(browser: Browser, predictor: Any, sample: Any, runs: int) -> dict[int, Any]:
    results: dict[int, Any] = {}
    for n in (1, 3, 5):
        e2e, bare, sizes = [], [], []
        for i in range(runs + 1):  # the first round warms up
            ms, size = browser.prompt(sample, n)
            bare_ms = time_predict(predictor, n)
            if i:
                e2e.append(ms)
                bare.append(bare_ms)
                sizes.append(size)
        results[n] = {"e2e": e2e, "bare": bare, "bytes": sizes}
        print(f"  {n} click(s): e2e p50 {statistics.median(e2e):.0f} ms, "
              f"bare p50 {statistics.median(bare):.0f} ms", flush=True)  # fmt: skip
    return results


def measure_switch(browser: Browser, samples: list[Any], runs: int) -> tuple[list, list]:
    """First click on the prefetched sample B after working on A, then a click on B."""
    first, warm = [], []
    for _ in range(runs):
        browser.click(samples[0], CLICKS[0], 1, reset=True)  # the worker now holds image A
        start = time.perf_counter()
        browser.click(samples[1], CLICKS[0], 1, reset=True)
        first.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        browser.click(samples[1], CLICKS[1], 1, reset=True)
        warm.append((time.perf_counter() - start) * 1000)
    return first, warm


def report(results: dict[int, Any], switch: tuple[list, list], encode_s: list[float]) -> None:
    rows = []
    for n, r in results.items():
        e2e, bare = r["e2e"], r["bare"]
        rows.append([
            f"{n} click(s)", len(e2e), statistics.median(e2e), percentile(e2e, 95),
            statistics.median(bare), percentile(bare, 95),
            statistics.median(e2e) / statistics.median(bare), int(statistics.median(r["bytes"])),
        ])  # fmt: skip
    _common.print_table(
        ["prompt", "runs", "e2e p50 ms", "e2e p95 ms", "predict p50 ms", "predict p95 ms",
         "ratio p50", "bytes/click"],
        rows,
    )  # fmt: skip
    first, warm = switch
    _common.print_table(
        ["click", "runs", "p50 ms", "p95 ms"],
        [
            ["first click on a prefetched sample", len(first), statistics.median(first),
             percentile(first, 95)],
            ["next click on the same sample", len(warm), statistics.median(warm),
             percentile(warm, 95)],
            ["first click without prefetch (encode)", len(encode_s), 1000 * max(encode_s), ""],
        ],
    )  # fmt: skip
    every_e2e = [v for r in results.values() for v in r["e2e"]]
    every_bare = [v for r in results.values() for v in r["bare"]]
    every_bytes = [v for r in results.values() for v in r["bytes"]]
    summary = {
        "p50_ms": round(statistics.median(every_e2e), 1),
        "p95_ms": round(percentile(every_e2e, 95), 1),
        "decoder_p50_ms": round(statistics.median(every_bare), 1),
        "ratio": round(statistics.median(every_e2e) / statistics.median(every_bare), 3),
        "response_bytes": int(statistics.median(every_bytes)),
        "response_bytes_max": int(max(every_bytes)),
        # Each end-to-end click was timed next to a bare predict: the median of those pairs'
        # ratios is less sensitive to load that changes during the run.
        "paired_ratio_p50": round(
            statistics.median(
                e / b for r in results.values() for e, b in zip(r["e2e"], r["bare"], strict=True)
            ),
            3,
        ),
        "ratio_by_clicks": {
            str(n): round(statistics.median(r["e2e"]) / statistics.median(r["bare"]), 3)
            for n, r in results.items()
        },
        "prefetched_first_click_p50_ms": round(statistics.median(first), 1),
        "cached_click_p50_ms": round(statistics.median(warm), 1),
        "encode_s": [round(s, 1) for s in encode_s],
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    # A Redis database of its own: the worker purges its queues, and tests on another database
    # purging theirs cannot take this run's messages.
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument(
        "--decoder", default="auto", choices=["auto", "torch", "onnx"],
        help="the worker's SAM_DECODER (the bare reference is always SamPredictor.predict)",
    )  # fmt: skip
    parser.add_argument("--size", default="768x512", help="image width x height")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    data_dir = Path(tempfile.mkdtemp(prefix="bench-masks-"))
    try:
        run(args, size, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # the checkpoint alone is ~360 MB


def run(args: argparse.Namespace, size: tuple[int, ...], data_dir: Path) -> None:
    checkpoint = configure(data_dir, args)
    _common.migrate()
    print(f"machine: {_common.machine()}; worker SEGMENTER=sam SAM_DECODER={args.decoder}")
    start = time.perf_counter()
    save_random_checkpoint(checkpoint, args.model_type)
    print(f"{args.model_type} random weights saved in {time.perf_counter() - start:.1f} s")
    user, samples, images = make_samples(data_dir, size)  # type: ignore[arg-type]
    from tests.support.celery_worker import running_worker

    # The worker logs each edit's segment and store times (INFO), read back for the breakdown.
    info = {"LOG_LEVEL": "INFO"}
    with running_worker(queues=("gpu",), ready_timeout=120, extra_env=info) as worker:
        cache_dir = data_dir / "embeddings"
        encode_s = [prefetch(sample, cache_dir, worker) for sample in samples]
        print(f"prefetch (encode) per image: {', '.join(f'{s:.1f} s' for s in encode_s)}")
        predictor = bare_predictor(args, checkpoint, images[0])
        browser = Browser(user)
        results = measure_clicks(browser, predictor, samples[0], args.runs)
        switch = measure_switch(browser, samples, max(10, args.runs // 3))
        worker_log = worker.log(tail=10**8)
    print(f"\nafter the run: {_common.load()}\n")
    print_worker_times(worker_log)
    report(results, switch, encode_s)


def print_worker_times(log: str) -> None:
    """p50 of what the worker itself spent per edit (review.services.mask_worker's INFO lines)
    and per task (Celery's "succeeded in"), against which the end-to-end time is compared."""
    import re

    segment = [float(v) for v in re.findall(r"segment ([\d.]+) ms", log)]
    store = [float(v) for v in re.findall(r"encode and store ([\d.]+) ms", log)]
    tasks = re.findall(r"compute_mask_edit\[[^\]]+\] succeeded in ([\d.e-]+)s", log)
    task_ms = [1000 * float(v) for v in tasks]
    rows = [
        ["segment() in the worker", len(segment), percentile(segment, 50)],
        ["encode RLEs + store", len(store), percentile(store, 50)],
        ["whole task (Celery's count)", len(task_ms), percentile(task_ms, 50)],
    ]
    if all(row[1] for row in rows):
        _common.print_table(["worker, per edit (all edits)", "edits", "p50 ms"], rows)


if __name__ == "__main__":
    main()
