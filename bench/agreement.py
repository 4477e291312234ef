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
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._agreement_data import generate  # noqa: E402


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


def timed(
    fn: Callable[[], object], *, runs: int, before: Callable[[], object] = lambda: None
) -> list[float]:
    """[median wall ms, median CPU ms of this process] over `runs` calls (`before` untimed).

    CPU time is what a busy shared machine does not inflate; on SQLite it includes the
    database's work (same process), on PostgreSQL only the client's.
    """
    wall, cpu = [], []
    for _ in range(runs):
        before()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return [float(np.median(wall)), float(np.median(cpu))]


def cold_then_warm(fn: Callable[[], object], *, cold_runs: int, runs: int) -> list[float]:
    """[cold wall, cold CPU, warm wall, warm CPU] ms; cold = every audit cache emptied first."""
    from review.selectors.audit import clear_audit_cache

    fn()  # imports, template compilation
    return timed(fn, runs=cold_runs, before=clear_audit_cache) + timed(fn, runs=runs)


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
    rows = [[name, *timed(fn, runs=runs)] for name, fn in parts]
    load = partial(ad.load_audit_data, filters=filters)
    baseline = timed(partial(_rows_one_thread, load), runs=runs)
    one_thread = timed(partial(_one_thread, load), runs=runs)
    default = timed(load, runs=runs)
    rows += [
        ["baseline: rows via the driver, one thread", *baseline],
        ["load_audit_data, columns, one thread", *one_thread],
        ["load_audit_data (columns, answers on a 2nd thread)", *default],
        ["ratio baseline / load_audit_data", baseline[0] / default[0], baseline[1] / default[1]],
    ]
    return rows


def _one_thread(fn: Callable[[], object]) -> object:
    """fn() with every query on this thread: inside a transaction the audit does not spread."""
    from django.db import transaction

    with transaction.atomic():
        return fn()


def _rows_one_thread(fn: Callable[[], object]) -> object:
    """fn() as the audit loaded before the columnar transport: rows through the driver's
    cursor (review.selectors.audit_query._fetch_rows), one thread."""
    from review.selectors import audit_query

    columns = audit_query._fetch_columns
    audit_query._fetch_columns = lambda *args: None  # type: ignore[assignment]
    try:
        return _one_thread(fn)
    finally:
        audit_query._fetch_columns = columns


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
    return [[name, *timed(partial(fn, data), runs=runs)] for name, fn in parts]


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
    ms = ["wall ms", "CPU ms"]
    _common.print_table(["cold: loading the arrays", *ms], load_rows(filters, args.cold_runs))
    _common.print_table(["statistics on the loaded arrays", *ms], figure_rows(data, args.runs))
    both = cold_then_warm(
        lambda: audit_figures(filters=filters), cold_runs=args.cold_runs, runs=args.runs
    )
    stages = [
        [
            "fingerprint (max ids + counts or pg_stat, 1 query)",
            *timed(audit_fingerprint, runs=args.runs),
        ],
        ["audit_figures, cold (load + statistics + cache)", *both[:2]],
        ["audit_figures, warm (fingerprint + cache hit)", *both[2:]],
    ]
    _common.print_table(["all dashboard figures", *ms], stages)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-auditor"))
    columns = ["page", "cold wall ms", "cold CPU ms", "warm wall ms", "warm CPU ms"]
    _common.print_table(columns, page_rows(client, dataset.name, args))
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
        rows.append([label, *cold_then_warm(fn, cold_runs=args.cold_runs, runs=args.runs)])
    return rows


if __name__ == "__main__":
    main()
