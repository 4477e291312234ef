"""Pipeline units through worker deaths: units sent, completed, lost, and time to recover.

For each pool (solo, prefork) and run: a pipeline run (annotate, verify, critic; 2 annotators,
every model call slowed to 0.4 s by the loopback OpenAI server) over --samples samples on a real
Celery worker; the process running a unit is SIGKILLed --kills times mid model call (solo: the
whole worker, then a new one is started; prefork: a pool child, which the pool replaces). This
process plays Celery beat (annotator.resend_stuck_units every 0.5 s); the workers' unit lease is
3 s (tests/support/unit_faults.py). It reports units completed, lost (pending or running when
the run should have ended), failed, kills that cut a unit off, the longest time from a kill to
that unit's completion (queueing behind the other units included) and the run's total.
Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 \\
    .venv/bin/python bench/faults_units.py [--runs 3] [--samples 6] [--kills 3] \\
        [--pools solo prefork]

A throwaway database (emoreview_unit_faults_<pid>) is created next to DATABASE_URL's and dropped
at the end; the broker's queues are purged before each run, so give it a Redis database of its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)  # the repo root, not bench/

from bench._common import load, print_table  # noqa: E402
from bench._faults import (  # noqa: E402
    by_pool,
    fault_parser,
    runs_on_each_pool,
    scratch_fault_database,
)

if TYPE_CHECKING:
    from tests.support.unit_faults import FaultReport


def parse_args() -> argparse.Namespace:
    parser = fault_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--kills", type=int, default=3)
    return parser.parse_args()


def one_run(args: argparse.Namespace, pool: str, root: Path) -> FaultReport:
    from annotator.models import Dataset, PipelineRun
    from tests.support.unit_faults import run_with_kills

    PipelineRun.objects.all().delete()
    Dataset.objects.filter(name=f"faults-{pool}").delete()
    return run_with_kills(root=root, pool=pool, kills=args.kills, samples=args.samples)


def main() -> None:
    args = parse_args()
    with scratch_fault_database(prefix="emoreview_unit_faults") as tmp:
        rows = runs_on_each_pool(
            pools=args.pools,
            runs=args.runs,
            one_run=lambda pool, index: one_run(args, pool, tmp / f"{pool}-{index}"),
        )
    print(f"\n{args.samples} samples and {args.kills} kills per run, unit lease 3 s, model calls "
          f"0.4 s; {load()}\n")  # fmt: skip
    table = []
    for pool in args.pools:
        runs = by_pool(rows, pool)
        table.append([
            pool, len(runs), sum(r.units for r in runs), sum(r.kills for r in runs),
            sum(r.killed_mid_unit for r in runs), sum(r.completed for r in runs),
            sum(r.lost for r in runs), sum(r.failed for r in runs),
            max(max(r.recover_s, default=0.0) for r in runs), max(r.seconds for r in runs),
        ])  # fmt: skip
    print_table(
        [
            "pool", "runs", "units sent", "workers killed", "cut off mid-unit", "completed",
            "lost", "failed", "recover max (s)", "run max (s)",
        ],
        table,
    )  # fmt: skip


if __name__ == "__main__":
    main()
