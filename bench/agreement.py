"""Audit dashboard at EmoVerse scale: 219K samples x 3 models, 2 human ratings each.

Generates one dataset in a throwaway database (SQLite by default; --database-url for
PostgreSQL): 3 model proposals per sample (labels right 80 % of the time, 2 % missing,
confidences 0-10), a critic verdict on 40 % of the disputed samples, two blind answers per
sample from 20 annotators (with confidence and time spent), a final label on 30 % and a gold
label on 5 %. Then reports, in ms (median of --runs; cold ones of --cold-runs):

- each query that loads the arrays, the whole load, and the statistics on the loaded arrays;
- `audit_figures` cold (empty cache: fingerprint + load + statistics + cache set) and warm;
- the dashboard page through django.test.Client (signed-in auditor), cold and warm, a drill-down
  page and a table's CSV.

    .venv/bin/python bench/agreement.py                      # 219K samples (a few minutes)
    .venv/bin/python bench/agreement.py --samples 20000 --runs 3
    .venv/bin/python bench/agreement.py --database-url postgres://user@host/db   # PostgreSQL
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402

ANNOTATORS = 20
ADJUDICATORS = 3
DAYS = 30


def setup(args: argparse.Namespace) -> None:
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="emoreview-bench-agreement-"))
    if not args.database_url:
        _common.setup_django(data_dir)
        return
    os.environ.update(
        EMOREVIEW_DATA_DIR=str(data_dir),
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="annotator.settings",
    )
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def insert(model: Any, n: int, given: dict[str, Sequence[Any]]) -> None:
    """executemany INSERT of n rows: the given columns, every other field's default."""
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in given:
            columns.append(field.column)
            values.append(given[field.column])
        elif not field.primary_key:
            auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            default = field.get_db_prep_save(now if auto else field.get_default(), connection)
            columns.append(field.column)
            values.append([default] * n)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) VALUES ({marks})"
    rows = list(zip(*values, strict=True))
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, n, 20_000):
            cursor.executemany(sql, rows[start : start + 20_000])


def stamps(seconds: np.ndarray) -> list[Any]:
    """Epoch seconds as values the database driver takes for a DateTimeField."""
    from datetime import UTC, datetime

    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(datetime.fromtimestamp(float(s), tz=UTC)) for s in seconds]


def generate(n: int, seed: int = 3) -> Any:
    """The dataset; returns it. Rows are built as numpy columns, written with executemany."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotator.models import CriticVerdict, Dataset, Proposal, Sample, Taxonomy
    from review.models import Adjudication, Annotation

    rng = np.random.default_rng(seed)
    labels = np.array(_common.EMOTIONS)
    k = len(labels)
    dataset = Dataset.objects.create(
        name="bench-agreement", taxonomy=Taxonomy.objects.get(name="mikels8")
    )
    users = get_user_model()
    people = [
        users.objects.create_user(f"rater-{i:02d}", password="unused-x1") for i in range(ANNOTATORS)
    ]
    bosses = [
        users.objects.create_user(f"adjudicator-{i}", password="unused-x1")
        for i in range(ADJUDICATORS)
    ]
    auditor = users.objects.create_user("bench-auditor", password="unused-x1")
    auditor.groups.add(Group.objects.get(name="auditor"))
    truth = rng.integers(0, k, n)

    def noisy(p_right: float) -> np.ndarray:
        return np.where(rng.random(n) < p_right, truth, rng.integers(0, k, n))

    sources = rng.choice(np.array(_common.SOURCES), n)
    gold = np.where(rng.random(n) < 0.05, labels[truth], "")
    ids = np.arange(1, n + 1) + (
        Sample.objects.order_by("-id").values_list("id", flat=True).first() or 0
    )
    insert(
        Sample,
        n,
        {
            "id": ids.tolist(),
            "dataset_id": [dataset.pk] * n,
            "external_id": [f"img-{i:07d}" for i in range(n)],
            "image_path": [f"{s}/{i:07d}.jpg" for i, s in enumerate(sources)],
            "source": sources.tolist(),
            "width": [640] * n,
            "height": [480] * n,
            "content_hash": [f"{i:064x}" for i in range(n)],
            "status": ["disputed"] * n,
            "gold_emotion": gold.tolist(),
        },
    )
    said = []
    for model in _common.MODELS:
        label = noisy(0.8)
        present = rng.random(n) >= 0.02
        right = label == truth
        confidence = np.clip(np.round(rng.normal(np.where(right, 7.5, 5.5), 1.8)), 0, 10)
        said.append(np.where(present, label, -1))
        insert(
            Proposal,
            int(present.sum()),
            {
                "sample_id": ids[present].tolist(),
                "model_name": [model] * int(present.sum()),
                "emotion": labels[label[present]].tolist(),
                "confidence": confidence[present].tolist(),
            },
        )
    codes = np.column_stack(said)
    disputed = codes.max(axis=1) != np.where(codes < 0, k, codes).min(axis=1)
    judged = disputed & (rng.random(n) < 0.4)
    m = int(judged.sum())
    insert(
        CriticVerdict,
        m,
        {
            "sample_id": ids[judged].tolist(),
            "verdict": rng.choice(
                np.array(["preserve", "revise", "drop"]), m, p=[0.6, 0.3, 0.1]
            ).tolist(),
            "emotion": labels[noisy(0.85)[judged]].tolist(),
        },
    )
    first = rng.integers(0, ANNOTATORS, n)
    second = (first + rng.integers(1, ANNOTATORS, n)) % ANNOTATORS
    start = time.time() - DAYS * 86400
    for who in (first, second):
        insert(
            Annotation,
            n,
            {
                "sample_id": ids.tolist(),
                "annotator_id": [people[int(i)].pk for i in who],
                "emotion": labels[noisy(0.85)].tolist(),
                "confidence": rng.integers(0, 11, n).astype(float).tolist(),
                "time_spent_ms": np.where(rng.random(n) < 0.9, rng.gamma(2, 15_000, n), 0)
                .astype(int)
                .tolist(),
                "created_at": stamps(start + rng.uniform(0, DAYS * 86400, n)),
            },
        )
    final = rng.random(n) < 0.3
    f = int(final.sum())
    insert(
        Adjudication,
        f,
        {
            "sample_id": ids[final].tolist(),
            "annotator_id": [bosses[int(i)].pk for i in rng.integers(0, ADJUDICATORS, f)],
            "emotion": labels[noisy(0.9)[final]].tolist(),
            "confidence": [8.0] * f,
            "time_spent_ms": rng.gamma(2, 20_000, f).astype(int).tolist(),
            "decided_at": stamps(start + rng.uniform(0, DAYS * 86400, f)),
        },
    )
    return dataset


def cold_then_warm(fn: Callable[[], object], *, cold_runs: int, runs: int) -> tuple[float, float]:
    """(median ms with every audit cache emptied before each call, median ms when warm)."""
    from review.selectors.audit import clear_audit_cache

    cold = []
    for _ in range(cold_runs):
        clear_audit_cache()
        start = time.perf_counter()
        fn()
        cold.append((time.perf_counter() - start) * 1000)
    return float(np.median(cold)), _common.median_ms(fn, runs=runs)


def load_rows(filters: Any, runs: int) -> list[list[object]]:
    """Each query behind AuditData, as load_audit_data runs it (rows fetched and coded)."""
    from review.selectors import audit_data as ad

    labels = list(filters.dataset.taxonomy.labels)
    ids, *_ = ad._samples(filters, labels)
    parts: list[tuple[str, Callable[[], object]]] = [
        ("samples (id, source, gold)", lambda: ad._samples(filters, labels)),
        ("proposals (3 per sample)", lambda: ad._proposals(filters, ids, labels)),
        ("critic verdicts (latest per sample)", lambda: ad._critic(filters, ids, labels)),
        ("final labels + adjudicator decisions", lambda: ad._adjudications(filters, ids, labels)),
        ("human answers (2 per sample) + timing", lambda: ad._answers(filters, ids, labels)),
    ]
    rows = [[name, _common.median_ms(fn, runs=runs, warmup=0)] for name, fn in parts]
    rows.append(
        [
            "load_audit_data (all of the above)",
            _common.median_ms(lambda: ad.load_audit_data(filters=filters), runs=runs, warmup=0),
        ]
    )
    return rows


def figure_rows(data: Any, runs: int) -> list[list[object]]:
    """Each family of figures on the loaded arrays (what compute_audit_figures calls)."""
    from review.selectors import audit_models as am
    from review.selectors import audit_people as ap

    parts: list[tuple[str, Callable[[Any], object]]] = [
        ("models: pairs (confusion, Cohen), Fleiss, alpha", am.model_figures),
        ("disputes per emotion and per source", am.dispute_figures),
        ("people: agreement, alpha x2 (labels, confidence)", ap.human_figures),
        ("people: each vs consensus (leave-one-out) and gold", ap.annotator_figures),
        ("models + critic vs final label", am.final_agreement),
        ("critic overturns", am.critic_overturns),
        ("calibration (3 reliability diagrams, ECE)", am.calibration_figures),
        ("throughput", ap.throughput_figures),
    ]
    return [[name, _common.median_ms(partial(fn, data), runs=runs)] for name, fn in parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=219_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--keep", type=Path, help="SQLite in this directory, reused if generated")
    args = parser.parse_args()
    setup(args)
    _common.migrate()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from annotator.models import Dataset
    from review.selectors.audit import AuditFilters, audit_figures, audit_fingerprint
    from review.selectors.audit_data import load_audit_data

    print(f"{_common.machine()}; database: {connection.vendor}")
    dataset = Dataset.objects.select_related("taxonomy").filter(name="bench-agreement").first()
    if dataset is None:
        start = time.perf_counter()
        dataset = generate(args.samples)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"generated {args.samples:,} samples in {time.perf_counter() - start:.0f} s")
    filters = AuditFilters(dataset=dataset)
    data = load_audit_data(filters=filters)
    _common.print_table(["cold: loading the arrays", "ms"], load_rows(filters, args.cold_runs))
    _common.print_table(["statistics on the loaded arrays", "ms"], figure_rows(data, args.runs))
    cold, warm = cold_then_warm(
        lambda: audit_figures(filters=filters), cold_runs=args.cold_runs, runs=args.runs
    )
    fingerprint = _common.median_ms(audit_fingerprint, runs=args.runs)
    stages = [
        ["fingerprint (max ids + row counts or pg_stat, 1 query)", fingerprint],
        ["audit_figures, cold (load + statistics + cache)", cold],
        ["audit_figures, warm (fingerprint + cache hit)", warm],
    ]
    _common.print_table(["all dashboard figures", "ms"], stages)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-auditor"))
    _common.print_table(["page", "cold ms", "warm ms"], page_rows(client, dataset.name, args))
    mib = sum(v.nbytes for v in vars(data).values() if isinstance(v, np.ndarray)) / 1024**2
    figures = audit_figures(filters=filters)
    print(
        f"AuditData in memory: {mib:.1f} MiB; figures pickled: "
        f"{len(pickle.dumps(figures)) / 1024:.0f} KiB; {_common.load()}"
    )


def page_rows(client: Any, name: str, args: argparse.Namespace) -> list[list[object]]:
    def get(url: str, params: dict[str, str], **headers: str) -> Callable[[], None]:
        def run() -> None:
            response = client.get(url, params, headers=headers)
            assert response.status_code == 200, response.status_code
            if response.streaming:
                b"".join(response.streaming_content)

        return run

    pages = [
        ("dashboard /review/audit/", get("/review/audit/", {"dataset": name})),
        (
            "dashboard, htmx partial",
            get("/review/audit/", {"dataset": name}, **{"HX-Request": "true"}),
        ),
        (
            "drill-down list (pair confusion cell)",
            get(
                "/review/audit/samples/",
                {
                    "dataset": name,
                    "figure": "pair",
                    "a": "gemini-2.5",
                    "b": "gpt-4o",
                    "x": "awe",
                    "y": "fear",
                },
            ),
        ),
        (
            "table CSV (annotators)",
            get("/review/audit/tables/annotators/", {"dataset": name, "format": "csv"}),
        ),
        ("dashboard, source=FI", get("/review/audit/", {"dataset": name, "source": "FI"})),
    ]
    rows = []
    for label, fn in pages:
        cold, warm = cold_then_warm(fn, cold_runs=args.cold_runs, runs=args.runs)
        rows.append([label, cold, warm])
    return rows


if __name__ == "__main__":
    main()
