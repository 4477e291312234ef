"""Queue speed at EmoVerse scale: 219K samples in one dataset, about 30% disputed.

Times (median of --runs, in ms) the queue selector's page of rows, its COUNT (what the
paginator runs), the status counts and the filter choices, and the whole rendered queue page
through django.test.Client as a signed-in annotator: page 1, a deep page, and filtered by source
and by suggested emotion. Then every SQL statement the page ran is timed on its own and shown
with SQLite's EXPLAIN QUERY PLAN, so a slow page points at its slow query and the index used.

    .venv/bin/python bench/queue_speed.py                  # 219K samples (about 4 minutes)
    .venv/bin/python bench/queue_speed.py --samples 20000 --runs 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402

STATUSES = [
    ("disputed", 0.30),
    ("agreed", 0.50),
    ("adjudicated", 0.10),
    ("pending", 0.05),
    ("dropped", 0.05),
]
SLOW_MS = 50.0


def build(count: int) -> Any:
    _common.migrate()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotator.models import Dataset, Taxonomy

    reviewer = get_user_model().objects.create_user(
        username="bench-reviewer", password="unused-in-bench"
    )
    # The whole queue is for adjudicators and auditors (annotators see only their own work).
    reviewer.groups.add(Group.objects.get(name="auditor"))
    dataset = Dataset.objects.create(
        name="bench-queue", taxonomy=Taxonomy.objects.get(name="mikels8")
    )
    _common.fast_samples(dataset=dataset, count=count, statuses=STATUSES)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what a deployed database has after `PRAGMA optimize`
    return dataset


def cases(dataset: Any) -> list[tuple[str, dict[str, str]]]:
    from review.selectors.queue import queue_samples

    disputed = queue_samples(dataset=dataset, status="disputed").count()
    from django.conf import settings

    deep = max(1, (disputed + settings.QUEUE_PAGE_SIZE - 1) // settings.QUEUE_PAGE_SIZE)
    base = {"dataset": str(dataset.pk), "status": "disputed"}
    return [
        ("page 1", base),
        (f"deep page {deep:,} (last)", {**base, "page": str(deep)}),
        ("source=FI", {**base, "source": "FI"}),
        ("suggested=fear", {**base, "suggested": "fear"}),
        ("any status, page 1", {**base, "status": ""}),
    ]


def selector_timings(dataset: Any, params: dict[str, str], runs: int) -> tuple[float, float]:
    """(ms for the page's rows, ms for the COUNT) as the view's paginator runs them."""
    from django.conf import settings
    from django.core.paginator import Paginator

    from review.selectors.queue import queue_samples

    filters = {
        "dataset": dataset,
        "status": params.get("status", ""),
        "source": params.get("source", ""),
        "suggested": params.get("suggested", ""),
    }
    size = settings.QUEUE_PAGE_SIZE
    page = int(params.get("page", "1"))

    def rows() -> list[Any]:
        return list(queue_samples(**filters)[(page - 1) * size : page * size])

    def count() -> int:
        return Paginator(queue_samples(**filters), size).count

    return _common.median_ms(rows, runs=runs), _common.median_ms(count, runs=runs)


def page_timer(client: Any, params: dict[str, str], *, htmx: bool) -> Callable[[], None]:
    headers = {"HX-Request": "true"} if htmx else {}

    def get() -> None:
        response = client.get("/review/", params, headers=headers)
        assert response.status_code == 200, response.status_code

    return get


def page_queries(client: Any, params: dict[str, str]) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        page_timer(client, params, htmx=False)()
    return [q["sql"] for q in ctx.captured_queries]


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        steps = [row[-1] for row in cursor.fetchall()]
    return "; ".join(steps)


def time_sql(sql: str, runs: int) -> float:
    from django.db import connection

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.fetchall()

    return _common.median_ms(run, runs=runs)


def short(sql: str, width: int = 110) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def alternatives(dataset: Any, runs: int) -> list[list[object]]:
    """The last disputed page and the per-page counts, written other ways (for the report)."""
    from django.conf import settings
    from django.db.models import Count

    from annotator.models import Proposal, Sample
    from review.selectors.queue import queue_samples

    size = settings.QUEUE_PAGE_SIZE
    base = Sample.objects.filter(dataset=dataset, status="disputed").defer("des")
    last = (base.count() - 1) // size * size
    by_id = base.order_by("id")
    after = by_id.values_list("id", flat=True)[last - 1]

    def ids_then_counts() -> object:
        ids = list(by_id.values_list("id", flat=True)[last : last + size])
        page = list(Sample.objects.filter(id__in=ids).defer("des").order_by("id"))
        counts = Proposal.objects.filter(sample_id__in=ids).values_list("sample_id")
        return page, dict(counts.annotate(n=Count("id")).order_by())

    with_count = base.annotate(proposal_count=Count("proposals")).order_by("id")
    ways: list[tuple[str, Callable[[], object]]] = [
        ("last page, as now (select_related + Count, OFFSET)",
         lambda: list(queue_samples(dataset=dataset)[last : last + size])),
        ("last page, no select_related, with Count",
         lambda: list(with_count[last : last + size])),
        ("last page, select_related, no Count",
         lambda: list(base.select_related("dataset").order_by("id")[last : last + size])),
        ("last page, neither (walks sample_queue in id order)",
         lambda: list(by_id[last : last + size])),
        ("last page, as now but keyset id > previous page's last id",
         lambda: list(queue_samples(dataset=dataset).filter(id__gt=after)[:size])),
        ("last page, ids by OFFSET on sample_queue, then counts for those ids",
         ids_then_counts),
        ("status counts, GROUP BY status (as now)",
         lambda: list(Sample.objects.filter(dataset=dataset).order_by().values_list("status")
                      .annotate(n=Count("id")))),
        ("status counts, one COUNT(*) per status",
         lambda: [Sample.objects.filter(dataset=dataset, status=s).count()
                  for s in Sample.Status.values]),
        ("DISTINCT source over all samples (as now)",
         lambda: list(Sample.objects.order_by().values_list("source", flat=True).distinct())),
    ]  # fmt: skip
    return [[name, _common.median_ms(fn, runs=runs)] for name, fn in ways]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=219_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="keep the database in this directory")
    args = parser.parse_args()
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="emoreview-bench-"))
    _common.setup_django(data_dir)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from review.selectors.queue import queue_counts, queue_filter_choices

    print(f"Machine: {_common.machine()}; QUEUE_PAGE_SIZE={settings.QUEUE_PAGE_SIZE}")
    start = time.perf_counter()
    dataset = build(args.samples)
    seconds = time.perf_counter() - start
    print(f"Generated {args.samples:,} samples (3 proposals each) in {seconds:.0f} s\n")
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-reviewer"))

    rows = []
    plans: list[list[object]] = []
    seen: set[str] = set()
    for name, params in cases(dataset):
        rows_ms, count_ms = selector_timings(dataset, params, args.runs)
        page_ms = _common.median_ms(page_timer(client, params, htmx=False), runs=args.runs)
        partial_ms = _common.median_ms(page_timer(client, params, htmx=True), runs=args.runs)
        rows.append([name, rows_ms, count_ms, page_ms, partial_ms])
        for sql in page_queries(client, params):
            if "django_session" in sql or "auth_user" in sql or sql in seen:
                continue
            seen.add(sql)
            ms = time_sql(sql, max(3, args.runs // 4))
            plans.append([name, ms, "SLOW" if ms > SLOW_MS else "", short(sql), explain(sql)])
    counts_ms = _common.median_ms(lambda: queue_counts(dataset=dataset), runs=args.runs)
    choices_ms = _common.median_ms(lambda: queue_filter_choices(dataset=None), runs=args.runs)

    print(f"Median of {args.runs} runs, ms:\n")
    _common.print_table(
        ["case", "selector rows", "selector COUNT", "page (full)", "page (htmx partial)"], rows
    )
    _common.print_table(
        ["per page, any case", "ms"],
        [
            ["queue_counts (status counts)", counts_ms],
            ["queue_filter_choices (all datasets)", choices_ms],
        ],
    )
    print("Each distinct SQL statement of the full page (first case it appeared in; session and")
    print("user lookups left out), timed alone:\n")
    _common.print_table(["case", "ms", "", "SQL", "EXPLAIN QUERY PLAN"], plans)
    print("The same reads written other ways:\n")
    _common.print_table(["query", "ms"], alternatives(dataset, args.runs))
    print(f"After the runs: {_common.load()}")
    if not args.keep:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
