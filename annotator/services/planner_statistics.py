"""Planner statistics for every table, kept fresh by the app itself (beat, every
STATISTICS_CHECK_SECONDS), not only by autovacuum.

The tables people write (answers, leases, votes, the kept counts) start empty and have no
statistics until something analyses them. Where autovacuum is off, nothing ever does, and
PostgreSQL guesses: at 10K samples with 16 annotators it probed a person's whole history of
leases and answers for every disputed sample a page looked at (27K rows read a request
instead of 3K; 6.2 ms of database CPU a request instead of 2.6; bench/queue_speed.py, issue
12). This analyses what autovacuum would analyse, with the server's own thresholds, whether or
not autovacuum runs; where it does, it usually finds nothing to do.

SQLite: `PRAGMA optimize`, which analyses the tables whose statistics are missing or stale.
"""

from __future__ import annotations

from django.db import connection

# What autovacuum analyses (PostgreSQL's rule, its settings): a table changed by more than
# autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x its rows since its last
# ANALYZE, manual or automatic. Never-analysed tables count every row they were given.
STALE_TABLES = """
    SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname)
    FROM pg_stat_user_tables AS s
    JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
        + current_setting('autovacuum_analyze_scale_factor')::float8 * GREATEST(c.reltuples, 0)
    ORDER BY s.n_mod_since_analyze DESC
"""


def analyze_stale_tables() -> list[str]:
    """ANALYZE the tables whose statistics are missing or stale; their names (PostgreSQL), or
    [] on SQLite, which does not say what `PRAGMA optimize` analysed.

    Each table on its own: ANALYZE takes a lock that lets reads and writes go on, and a
    statement per table keeps it short."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("PRAGMA optimize")
            return []
        cursor.execute(STALE_TABLES)
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f"ANALYZE {name}")  # names from the catalog, quoted by quote_ident
    return names
