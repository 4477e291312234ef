"""Mask edits through worker deaths: clicks sent, masks computed, lost, and time to recover.

For each pool (solo, prefork) and run: a real Celery worker (GrabCut that sleeps
--segment-seconds first, tests/support/fault_settings.py) gets --clicks clicks, each on its own
element; the process computing one of them is SIGKILLed --kills times (solo: the whole worker,
then a new one is started; prefork: a pool child, which the pool replaces). This process plays
Celery beat (review.resend_stuck_mask_edits every 0.5 s). It reports what was computed, what was
lost (not done, or not shown), results stored twice, the longest time from a kill to that
edit's mask being stored, and the run's total. Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
    .venv/bin/python bench/faults.py [--runs 3] [--clicks 12] [--kills 3] [--pools solo prefork]

A throwaway database (emoreview_faults_<pid>) is created next to DATABASE_URL's and dropped at
the end; the broker's queues are purged before each run, so give it a Redis database of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
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
    from tests.support.mask_faults import FaultRun


def parse_args() -> argparse.Namespace:
    parser = fault_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=12)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--lease", type=float, default=2.0, help="MASK_CLAIM_LEASE_SECONDS")
    parser.add_argument("--segment-seconds", type=float, default=0.5)
    return parser.parse_args()


def one_run(args: argparse.Namespace, pool: str, images: Path) -> FaultRun:
    from django.utils import timezone

    from annotator.models import Taxonomy
    from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
    from review.models import Assignment
    from review.selectors.masks import ROLES
    from tests.support.mask_faults import run_mask_faults
    from tests.support.masks import make_annotator, make_scene_sample

    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})
    count = -(-args.clicks // len(ROLES))
    samples = [make_scene_sample(images, name=f"{pool}-{i}.png") for i in range(count)]
    person = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    for sample in samples:  # a lease on each: this person may edit its masks
        Assignment.objects.create(sample=sample, annotator=person, expires_at=expires)
    return run_mask_faults(
        pool=pool,
        samples=samples,
        person=person,
        clicks=args.clicks,
        kills=args.kills,
        lease_seconds=args.lease,
        segment_seconds=args.segment_seconds,
    )


def main() -> None:
    args = parse_args()
    os.environ["MASK_CLAIM_LEASE_SECONDS"] = str(args.lease)  # the sweep here reads it
    with scratch_fault_database(prefix="emoreview_faults") as tmp:
        images = tmp / "images"
        images.mkdir()
        rows = runs_on_each_pool(
            pools=args.pools, runs=args.runs, one_run=lambda pool, _: one_run(args, pool, images)
        )
    print(f"\n{args.clicks} clicks and {args.kills} kills per run, lease {args.lease:g} s, "
          f"segmenting {args.segment_seconds:g} s a click; {load()}\n")  # fmt: skip
    table = []
    for pool in args.pools:
        runs = by_pool(rows, pool)
        table.append([
            pool, len(runs), sum(r.clicks for r in runs), sum(r.kills for r in runs),
            sum(r.computed for r in runs), sum(r.lost for r in runs),
            sum(r.stored_twice for r in runs), max(r.recover_seconds for r in runs),
            max(r.total_seconds for r in runs),
        ])  # fmt: skip
    print_table(
        [
            "pool", "runs", "clicks sent", "workers killed", "masks computed", "lost",
            "stored twice", "recover max (s)", "run max (s)",
        ],
        table,
    )  # fmt: skip


if __name__ == "__main__":
    main()
