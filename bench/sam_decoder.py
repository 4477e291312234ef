"""Click latency of the segmenters: what a click costs once the image embedding exists.

SAM vit_b with random weights (decoder cost does not depend on the weights' values), through the
adapters the app uses: encoding once (cold prepare), restoring the float16 embedding from the
disk cache into a fresh segmenter (another worker's first click), and segment() for 1, 3 and 5
clicks with the torch decoder, the onnxruntime decoder and SamPredictor.predict for reference.
GrabCut, the no-weights fallback, on the same image for comparison.

    .venv/bin/python bench/sam_decoder.py              # ~1-2 minutes on 2 cores
    .venv/bin/python bench/sam_decoder.py --runs 10 --model-type vit_b
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

CLICKS = [(380.0, 250.0), (300.0, 200.0), (450.0, 300.0), (100.0, 60.0), (700.0, 480.0)]
LABELS = [1, 1, 1, 0, 0]


def load_image(width: int, height: int) -> np.ndarray:
    from PIL import Image

    demo = _common.REPO / "annotator" / "demo" / "images" / "chelsea.jpg"
    if demo.is_file():
        return np.asarray(Image.open(demo).convert("RGB").resize((width, height)))
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def prompt(n: int) -> Any:
    from annotator.adapters.segmenters import Prompt

    return Prompt(points=CLICKS[:n], labels=LABELS[:n])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--size", default="768x512", help="image width x height")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    data_dir = Path(tempfile.mkdtemp(prefix="bench-sam-"))
    _common.setup_django(data_dir)

    from annotator.adapters.segmenters import Prompt
    from annotator.adapters.segmenters.grabcut import GrabCutSegmenter
    from annotator.adapters.segmenters.onnx_decoder import OnnxDecoder
    from annotator.adapters.segmenters.sam import SamSegmenter, decode_with_torch, upscale_masks
    from annotator.lib.embedding_cache import DiskEmbeddingCache

    print(f"machine: {_common.machine()}")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; image {args.size}\n")
    image = load_image(width, height)
    cache = DiskEmbeddingCache(data_dir / "embeddings", max_bytes=2**30)
    start = time.perf_counter()
    sam = SamSegmenter.from_checkpoint(
        model_type=args.model_type, checkpoint=None, device="cpu", cache=cache
    )
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    sam.prepare(image=image, image_key="img")  # cold: encodes and caches float16
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    onnx_decoder = OnnxDecoder.exported(sam.model, path=data_dir / "onnx" / "decoder.onnx")
    export_s = time.perf_counter() - start
    onnx = SamSegmenter(sam.model, name="onnx", cache=cache, decoder=onnx_decoder)

    def restore() -> None:
        SamSegmenter(sam.model, name=sam.name, cache=cache, weights_id=sam.weights_id).prepare(
            image=image, image_key="img"
        )

    rows = [
        ["build model (random weights)", build_s * 1000, "once per process"],
        ["encode image (cold prepare)", encode_s * 1000, "once per image, any worker"],
        ["export ONNX decoder", export_s * 1000, "once per weights"],
        ["restore float16 embedding (disk)", _common.median_ms(restore, runs=args.runs), "p50"],
    ]
    print_latency_table(rows, sam=sam, onnx=onnx, image=image, runs=args.runs)
    restored = SamSegmenter(sam.model, name="r", cache=cache, weights_id=sam.weights_id)
    restored.prepare(image=image, image_key="img")
    agreement_rows, all4 = [], [0, 1, 2, 3]
    for n in (1, 3, 5):
        # All four mask tokens, compared token by token (random weights give near-equal IoU
        # predictions, so an order by score could differ on noise).
        fresh = upscale_masks(sam._predictor, decode_with_torch(sam._predictor, prompt(n))[0], all4)
        from_f16 = upscale_masks(
            restored._predictor, decode_with_torch(restored._predictor, prompt(n))[0], all4
        )
        via_onnx = upscale_masks(sam._predictor, onnx_decoder(sam._predictor, prompt(n))[0], all4)
        worst_iou = min(iou(a, b) for a, b in zip(fresh, from_f16, strict=True))
        equal = float(np.mean(fresh == via_onnx))
        agreement_rows.append([n, f"{worst_iou:.6f}", f"{equal:.6f}"])
    print("Agreement with the fresh float32 embedding and the torch decoder (all 4 masks):")
    _common.print_table(["clicks", "worst IoU, float16 cache", "ONNX pixels equal"], agreement_rows)
    grabcut = GrabCutSegmenter()
    box = Prompt(points=CLICKS[:1], labels=[1], box=(200, 120, 560, 420))
    grabcut_ms = _common.median_ms(
        lambda: grabcut.segment(image=image, image_key="img", prompt=box), runs=10
    )
    print(f"GrabCut (box + 1 click, {args.size}): p50 {grabcut_ms:.0f} ms")


def print_latency_table(rows: list, *, sam: Any, onnx: Any, image: np.ndarray, runs: int) -> None:
    """Torch, onnxruntime and SamPredictor take turns within each run, so that a busy machine
    slows all three alike."""
    predictor = sam._predictor  # holds the image; predict() leaves its state as it is
    for n in (1, 3, 5):
        p = prompt(n)
        points, labels = np.array(CLICKS[:n]), np.array(LABELS[:n])
        calls: dict[str, Callable[[], object]] = {
            f"segment(), {n} click(s), torch": partial(
                sam.segment, image=image, image_key="img", prompt=p
            ),
            f"segment(), {n} click(s), onnxruntime": partial(
                onnx.segment, image=image, image_key="img", prompt=p
            ),
            f"SamPredictor.predict, {n} click(s)": partial(
                predictor.predict, point_coords=points, point_labels=labels
            ),
        }
        times: dict[str, list[float]] = {label: [] for label in calls}
        for _ in range(runs + 1):  # the first round warms up
            for label, call in calls.items():
                start = time.perf_counter()
                call()
                times[label].append((time.perf_counter() - start) * 1000)
        for label, values in times.items():
            rows.append([label, statistics.median(values[1:]), f"p50 of {runs}"])
    _common.print_table(["step", "ms", "note"], rows)


if __name__ == "__main__":
    main()
