"""What faults.py (mask edits) and faults_units.py (pipeline units) share: the pool and run
options, a scratch PostgreSQL database with Django set up on it, and the runs on each pool."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from bench._common import required_postgres_and_redis, scratch_postgres, setup_django_migrated


class PoolRun(Protocol):
    pool: str


Run = TypeVar("Run", bound=PoolRun)


def fault_parser(description: str) -> argparse.ArgumentParser:
    """A parser with --pools and --runs; the bench adds what it kills and how much it sends."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pools", nargs="+", default=["solo", "prefork"])
    parser.add_argument("--runs", type=int, default=3)
    return parser


@contextmanager
def scratch_fault_database(*, prefix: str) -> Iterator[Path]:
    """A temporary folder, yielded once Django is set up on a fresh database named `prefix`_pid
    (dropped afterwards); exits first when PostgreSQL or Redis is not configured."""
    database, _ = required_postgres_and_redis()
    with (
        tempfile.TemporaryDirectory(prefix=f"{prefix.replace('_', '-')}-") as tmp,
        scratch_postgres(database, prefix=prefix),
    ):
        setup_django_migrated(Path(tmp) / "data")
        yield Path(tmp)


def runs_on_each_pool(
    *, pools: list[str], runs: int, one_run: Callable[[str, int], Run]
) -> list[Run]:
    """`runs` calls of one_run(pool, index) for each pool, each result printed as it comes."""
    rows = []
    for pool in pools:
        for index in range(runs):
            run = one_run(pool, index)
            print(f"{pool} run {index + 1}: {run}", file=sys.stderr, flush=True)
            rows.append(run)
    return rows


def by_pool(rows: list[Run], pool: str) -> list[Run]:
    return [row for row in rows if row.pool == pool]
