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


class Generator:
    """The bench dataset, one table at a time: rows built as numpy columns, written with
    executemany (about 10x faster than bulk_create)."""

    def __init__(self, n: int, seed: int = 3) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from annotator.models import Dataset, Sample, Taxonomy

        self.n, self.rng = n, np.random.default_rng(seed)
        self.labels = np.array(_common.EMOTIONS)
        self.truth = self.rng.integers(0, len(self.labels), n)
        self.start = time.time() - DAYS * 86400
        taxonomy = Taxonomy.objects.get(name="mikels8")
        self.dataset = Dataset.objects.create(name="bench-agreement", taxonomy=taxonomy)
        users = get_user_model().objects
        self.people = [users.create_user(f"rater-{i:02d}") for i in range(ANNOTATORS)]
        self.bosses = [users.create_user(f"adjudicator-{i}") for i in range(ADJUDICATORS)]
        users.create_user("bench-auditor").groups.add(Group.objects.get(name="auditor"))
        first = Sample.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.ids = np.arange(first + 1, first + 1 + n)

    def noisy(self, p_right: float) -> np.ndarray:
        """Label codes equal to the hidden truth with probability p_right, else random."""
        wrong = self.rng.integers(0, len(self.labels), self.n)
        return np.where(self.rng.random(self.n) < p_right, self.truth, wrong)

    def when(self, count: int) -> list[Any]:
        return stamps(self.start + self.rng.uniform(0, DAYS * 86400, count))

    def samples(self) -> None:
        from annotator.models import Sample

        n, sources = self.n, self.rng.choice(np.array(_common.SOURCES), self.n)
        gold = np.where(self.rng.random(n) < 0.05, self.labels[self.truth], "")
        columns = {
            "id": self.ids.tolist(),
            "dataset_id": [self.dataset.pk] * n,
            "external_id": [f"img-{i:07d}" for i in range(n)],
            "image_path": [f"{s}/{i:07d}.jpg" for i, s in enumerate(sources)],
            "source": sources.tolist(),
            "width": [640] * n,
            "height": [480] * n,
            "content_hash": [f"{i:064x}" for i in range(n)],
            "status": ["disputed"] * n,
            "gold_emotion": gold.tolist(),
        }
        insert(Sample, n, columns)

    def proposals(self) -> np.ndarray:
        """3 models, 80 % right, 2 % missing; returns the samples they disagree on."""
        from annotator.models import Proposal

        said = []
        for model in _common.MODELS:
            label, present = self.noisy(0.8), self.rng.random(self.n) >= 0.02
            mean = np.where(label == self.truth, 7.5, 5.5)
            confidence = np.clip(np.round(self.rng.normal(mean, 1.8)), 0, 10)
            said.append(np.where(present, label, -1))
            m = int(present.sum())
            columns = {
                "sample_id": self.ids[present].tolist(),
                "model_name": [model] * m,
                "emotion": self.labels[label[present]].tolist(),
                "confidence": confidence[present].tolist(),
            }
            insert(Proposal, m, columns)
        codes = np.column_stack(said)
        return codes.max(axis=1) != np.where(codes < 0, len(self.labels), codes).min(axis=1)

    def verdicts(self, disputed: np.ndarray) -> None:
        from annotator.models import CriticVerdict

        judged = disputed & (self.rng.random(self.n) < 0.4)
        m = int(judged.sum())
        kinds = self.rng.choice(np.array(["preserve", "revise", "drop"]), m, p=[0.6, 0.3, 0.1])
        columns = {
            "sample_id": self.ids[judged].tolist(),
            "verdict": kinds.tolist(),
            "emotion": self.labels[self.noisy(0.85)[judged]].tolist(),
        }
        insert(CriticVerdict, m, columns)

    def answers(self) -> None:
        """Two blind answers per sample from 20 annotators, 85 % right, 90 % with a time."""
        from review.models import Annotation

        n = self.n
        first = self.rng.integers(0, ANNOTATORS, n)
        second = (first + self.rng.integers(1, ANNOTATORS, n)) % ANNOTATORS
        for who in (first, second):
            spent = np.where(self.rng.random(n) < 0.9, self.rng.gamma(2, 15_000, n), 0)
            columns = {
                "sample_id": self.ids.tolist(),
                "annotator_id": [self.people[int(i)].pk for i in who],
                "emotion": self.labels[self.noisy(0.85)].tolist(),
                "confidence": self.rng.integers(0, 11, n).astype(float).tolist(),
                "time_spent_ms": spent.astype(int).tolist(),
                "created_at": self.when(n),
            }
            insert(Annotation, n, columns)

    def finals(self) -> None:
        from review.models import Adjudication

        final = self.rng.random(self.n) < 0.3
        m = int(final.sum())
        columns = {
            "sample_id": self.ids[final].tolist(),
            "annotator_id": [self.bosses[int(i)].pk for i in self.rng.integers(0, ADJUDICATORS, m)],
            "emotion": self.labels[self.noisy(0.9)[final]].tolist(),
            "confidence": [8.0] * m,
            "time_spent_ms": self.rng.gamma(2, 20_000, m).astype(int).tolist(),
            "decided_at": self.when(m),
        }
        insert(Adjudication, m, columns)


def generate(n: int) -> Any:
    """The whole dataset (see the module docstring); returns it."""
    made = Generator(n)
    made.samples()
    made.verdicts(made.proposals())
    made.answers()
    made.finals()
    return made.dataset


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
