"""Pages as the team's work grows: the annotator's requests with 2K, 30K and 100K answers made.

bench/queue_speed.py keeps people's work fixed (it is what a team did, not a share of the
dataset). By the end of EmoVerse's 219K, ~65K disputed samples hold ~130K answers. This bench
builds one dataset (bench/_queue_data.py), then grows the work in steps as the app leaves it:
disputed samples in id order answered by two people (submitted leases, answers), their status
then adjudicated. At each step, in this process through django.test.Client: server CPU per
request (the process's and its PostgreSQL backend's, the median of --runs calls) of the
annotator's sample page and save and next, and of the statements behind them that read people's
work: the available count ("still to come", review.selectors.available), the same count the
old way (every answer, vote and lease grouped: the baseline, as it ran until 703f024), and
"Next"'s first try (untouched samples). Growth = the last step over the first.

    .venv/bin/python bench/work_growth.py                 # SQLite, 219K samples
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/work_growth.py --postgres
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench.queue_speed import measure, page_kinds  # noqa: E402

BATCH = 5_000
# The available count's blocked samples as review.selectors.available counted them until
# 703f024: one GROUP BY over every answer, vote, live lease and the person's closed leases.
OLD_BLOCKED = """
    SELECT COUNT(*) FROM (
        SELECT sample_id, SUM(n) AS load, MAX(mine) AS mine FROM (
            SELECT sample_id, 1 AS n, CASE WHEN annotator_id = {user} THEN 1 ELSE 0 END AS mine
                FROM review_annotation
            UNION ALL SELECT sample_id, 1, 0 FROM review_binaryvote
            UNION ALL SELECT sample_id, 1, CASE WHEN annotator_id = {user} THEN 1 ELSE 0 END
                FROM review_assignment
                WHERE kind = {annotate} AND status = {active} AND expires_at > {now}
            UNION ALL SELECT sample_id, 0, 1 FROM review_assignment
                WHERE annotator_id = {user} AND kind = {annotate}
                    AND status IN ({submitted}, {skipped})
        ) AS people GROUP BY sample_id
        HAVING MAX(mine) = 1 OR SUM(n) >= (SELECT MIN(overlap_k) FROM annotator_dataset)
    ) AS g
    WHERE (
        SELECT 1 FROM annotator_sample AS s JOIN annotator_dataset AS d ON d.id = s.dataset_id
        WHERE s.id = g.sample_id AND s.status = {disputed}
            AND (g.mine = 1 OR (s.gold_emotion = '' AND g.load >= d.overlap_k))
    ) = 1
"""


def grow_work(*, built: dict[str, Any], answers: int) -> int:
    """Answer untouched disputed samples (two people each, in id order) until the database
    holds `answers` answers; their leases submitted, the samples adjudicated. Returns the
    count reached."""
    from django.db import transaction
    from django.utils import timezone

    from annotator.models import Sample
    from review.models import Annotation, Assignment

    people, now = built["annotators"], timezone.now()
    while (have := Annotation.objects.count()) < answers:
        todo = min(BATCH, (answers - have + 1) // 2)
        ids = list(
            Sample.objects.filter(dataset=built["dataset"], status="disputed")
            .exclude(assignments__isnull=False)
            .order_by("id")
            .values_list("id", flat=True)[:todo]
        )
        if not ids:
            break
        with transaction.atomic():
            pairs = [(pk, people[(pk + j) % len(people)]) for pk in ids for j in (0, 1)]
            Assignment.objects.bulk_create(
                Assignment(sample_id=pk, annotator=p, kind="annotate", status="submitted",
                           expires_at=now, finished_at=now) for pk, p in pairs
            )  # fmt: skip
            Annotation.objects.bulk_create(
                Annotation(sample_id=pk, annotator=p, emotion="awe", confidence=7.0)
                for pk, p in pairs
            )
            Sample.objects.filter(pk__in=ids).update(status="adjudicated")
    return Annotation.objects.count()


def statements(built: dict[str, Any]) -> dict[str, Any]:
    """The reads of people's work behind the annotator's pages, each as one call."""
    from django.db import connection
    from django.utils import timezone

    from review.selectors.available import available_figures
    from review.selectors.queue import adjudication_count
    from review.selectors.untouched import untouched_candidate_ids

    person = built["annotators"][0]
    values = {
        "user": person.pk, "annotate": "annotate", "active": "active",
        "submitted": "submitted", "skipped": "skipped", "disputed": "disputed",
    }  # fmt: skip
    names = re.findall(r"\{(\w+)\}", OLD_BLOCKED)
    old_sql = re.sub(r"\{\w+\}", "%s", OLD_BLOCKED)

    def old() -> None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(old_sql, [now if n == "now" else values[n] for n in names])
            cursor.fetchall()

    return {
        "available count (SampleLoad)": lambda: available_figures(
            user_id=person.pk, now=timezone.now(), dataset_id=None, binary_ids=()
        ),
        "baseline: available count, old GROUP BY": old,
        '"Next" first try (untouched ids)': lambda: untouched_candidate_ids(
            user=person, dataset=None, now=timezone.now(), limit=25
        ),
        # Still a GROUP BY over every answer (and every conflict event): the queue page's.
        "adjudication count (reviewers' queue)": lambda: adjudication_count(dataset=None),
    }


def run(args: argparse.Namespace) -> None:
    from annotator.services.planner_statistics import analyze_stale_tables
    from bench import _queue_data

    built = _queue_data.build(args.samples)
    kinds = page_kinds(built)
    calls = {
        "queue, first page (reviewer)": kinds["queue, first page"],
        "sample page (annotator)": kinds["sample page (annotator)"],
        "save and next (annotator)": kinds["save and next (annotator)"],
        **statements(built),
    }
    steps = [int(s) for s in args.steps.split(",")]
    reached: list[int] = []
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for target in steps:
        reached.append(grow_work(built=built, answers=target))
        if args.analyze:  # what beat's statistics check does after that many writes
            analyze_stale_tables()
        for name, fn in calls.items():
            cpu[name].append(statistics.median(measure(fn, args.runs)["cpus"]))
    headers = ["CPU ms a call", *[f"{n:,} answers" for n in reached], "growth"]
    rows = [[name, *ms, ms[-1] / max(ms[0], 0.001)] for name, ms in cpu.items()]
    _common.print_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a scratch DB on DATABASE_URL")
    parser.add_argument("--samples", type=int, default=219_000)
    parser.add_argument("--steps", default="2000,30000,100000", help="answers at each step")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--analyze", action="store_true", help="beat's statistics check after each step"
    )
    args = parser.parse_args()
    print(f"Machine: {_common.machine()}")
    print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.samples:,} samples")
    start = time.perf_counter()
    _common.run_with_django(postgres=args.postgres, prefix="work", fn=lambda: run(args))
    print(f"{time.perf_counter() - start:.0f} s; {_common.load()}")


if __name__ == "__main__":
    main()
