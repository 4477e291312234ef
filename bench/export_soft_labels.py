"""What the soft labels (issue 14 §4) cost an export: CPU time of each label format on the same
dataset without a latent-class fit (the baseline: the export as it was, plus two reads for the
taxonomy and the fit) and with a fit that gives every sample a posterior (one more query a batch,
the probabilities decoded per batch with numpy and written per row), in the same run.

A throwaway SQLite database gets N synthetic samples (bench/_common.make_samples: 3 proposals
each, adjudications, drop verdicts, boxes; no DES). Each format is exported to a temporary file,
alternating without/with, `--runs` times; the table shows the median CPU seconds (user +
system of this process: wall time means little on a shared machine) and their ratio.

    .venv/bin/python bench/export_soft_labels.py                    # N = 20,000
    .venv/bin/python bench/export_soft_labels.py --count 5000 --formats csv parquet
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402

STATUSES = [("agreed", 0.5), ("adjudicated", 0.15), ("disputed", 0.25), ("pending", 0.05),
            ("dropped", 0.05)]  # fmt: skip
FORMATS = ["csv", "parquet", "jsonl", "coco", "labelstudio"]
DATASET = "bench-soft"


def generate(count: int) -> None:
    from django.contrib.auth import get_user_model

    from annotator.models import Dataset, Taxonomy

    annotator = get_user_model().objects.create(username="bench-annotator")
    dataset = Dataset.objects.create(name=DATASET, taxonomy=Taxonomy.objects.get(name="mikels8"))
    _common.make_samples(dataset=dataset, count=count, statuses=STATUSES, annotator=annotator)


def add_fit() -> None:
    """A finished fit with a posterior for every sample (Dirichlet draws, float32)."""
    import numpy as np
    from django.utils import timezone

    from annotator.models import Dataset
    from review.models_consensus import ConsensusFit, SamplePosterior

    dataset = Dataset.objects.get(name=DATASET)
    labels = list(dataset.taxonomy.labels)
    ids = list(dataset.samples.order_by("id").values_list("id", flat=True))
    probs = np.random.default_rng(3).dirichlet([0.3] * len(labels), size=len(ids)).astype("<f4")
    fit = ConsensusFit.objects.create(
        dataset=dataset, status="done", labels=labels, finished_at=timezone.now()
    )
    entropy = -(probs * np.log2(np.clip(probs, 1e-12, None))).sum(axis=1)
    rows = [
        SamplePosterior(
            sample_id=pk, dataset=dataset, fit=fit, probs=p.tobytes(),
            label=labels[int(p.argmax())], p_label=float(p.max()), entropy=float(h),
            expected_change=float(1 - p.max()),
        )
        for pk, p, h in zip(ids, probs, entropy, strict=True)
    ]  # fmt: skip
    SamplePosterior.objects.bulk_create(rows, batch_size=5000)


def drop_fit() -> None:
    from review.models_consensus import ConsensusFit

    ConsensusFit.objects.filter(dataset__name=DATASET).delete()  # cascades to the posteriors


def export_cpu(fmt: str, out: Path) -> float:
    from annotator.models import Dataset
    from review.services.export import export_to_path

    dataset = Dataset.objects.get(name=DATASET)
    start = _common.cpu_seconds()
    export_to_path(dataset=dataset, scope="all", fmt=fmt, path=out)
    return _common.cpu_seconds() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=FORMATS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-soft-") as tmp:
        _common.setup_django(Path(tmp))
        _common.migrate()
        generate(args.count)
        print(f"{args.count:,} samples; {_common.machine()}")
        rows = []
        for fmt in args.formats:
            plain, soft = [], []
            for _ in range(args.runs):
                drop_fit()
                plain.append(export_cpu(fmt, Path(tmp) / f"plain.{fmt}"))
                add_fit()
                soft.append(export_cpu(fmt, Path(tmp) / f"soft.{fmt}"))
            base, with_fit = statistics.median(plain), statistics.median(soft)
            rows.append((fmt, base, with_fit, with_fit / base))
        _common.print_table(
            ["format", "CPU s, no fit (baseline)", "CPU s, every sample a posterior", "ratio"],
            rows,
        )


if __name__ == "__main__":
    main()
