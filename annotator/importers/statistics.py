"""Planner statistics after an import: a fresh database has none, and without them SQLite
and PostgreSQL choose poor plans for the queue's aggregates (issue 12: 30 ms became 1.9 ms
after ANALYZE at 219K samples). Only the tables an import writes are analysed."""

from __future__ import annotations

from django.db import connection

from annotator.models import CriticVerdict, Proposal, Region, Sample

TABLES = [Sample, Proposal, Region, CriticVerdict]


def refresh_statistics() -> None:
    """ANALYZE the import's tables (PostgreSQL samples each table; SQLite reads its indexes).

    On PostgreSQL outside a transaction, VACUUM too: it marks the new pages all-visible, which
    lets the queue's OFFSET and counts read the `sample_queue*` indexes alone (a typed page
    1,318 at 219K samples: 40 ms before, 3.7 ms after). Autovacuum would do it later, or never
    where it is off; VACUUM cannot run inside a transaction, so there ANALYZE alone."""
    quote = connection.ops.quote_name
    names = [quote(model._meta.db_table) for model in TABLES]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for name in names:
                cursor.execute(f"ANALYZE {name}")
        elif connection.in_atomic_block:
            cursor.execute(f"ANALYZE {', '.join(names)}")
        else:
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(names)}")


def plan_with_values() -> None:
    """Inside the import's transaction on PostgreSQL: plan each statement with its values.

    The web keeps the default (`auto`): a page's prepared reads reuse a generic plan after
    five runs, 20-30% less database CPU a page. An import runs its per-batch id lookup
    thousands of times, and the generic plan PostgreSQL settled on walked the whole table
    each batch (219K lines: 327 s of server CPU instead of 38)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
