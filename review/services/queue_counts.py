"""Keeps review.models_queue.QueueCount: the triggers that maintain it, a recount, compaction.

The triggers are (re)installed and the rows recounted after every `migrate` and `flush` (the
post_migrate signal): on SQLite a migration that rebuilds annotator_sample drops the table's
triggers with it, and `flush` empties tables in no fixed order, so rows can be written for
samples being deleted after QueueCount was emptied. Nothing else ever recounts.
"""

from __future__ import annotations

from django.db import connections, transaction

from review.services import kept_counts
from review.services.kept_counts import KeptCounts

TABLE = "review_queuecount"
KEY = "dataset_id, status, source, suggested_emotion, human_check, gold"
# PostgreSQL appends delta rows; fold them once there are this many more rows than buckets.
COMPACT_SLACK = 500


def _bucket(row: str) -> str:
    return (
        f"{row}.dataset_id, {row}.status, {row}.source, {row}.suggested_emotion, "
        f"{row}.human_check, {row}.gold_emotion <> ''"
    )


def _upsert(row: str, delta: int) -> str:
    return (
        f"INSERT INTO {TABLE} ({KEY}, n) VALUES ({_bucket(row)}, {delta}) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = n + excluded.n;"
    )


SQLITE_TRIGGERS = [
    f"CREATE UNIQUE INDEX IF NOT EXISTS queuecount_bucket ON {TABLE} ({KEY})",
    f"""CREATE TRIGGER IF NOT EXISTS queuecount_insert AFTER INSERT ON annotator_sample
    BEGIN {_upsert("NEW", 1)} END""",
    f"""CREATE TRIGGER IF NOT EXISTS queuecount_delete AFTER DELETE ON annotator_sample
    BEGIN {_upsert("OLD", -1)} END""",
    f"""CREATE TRIGGER IF NOT EXISTS queuecount_update
    AFTER UPDATE OF dataset_id, status, source, suggested_emotion, human_check, gold_emotion
    ON annotator_sample
    WHEN OLD.dataset_id IS NOT NEW.dataset_id OR OLD.status IS NOT NEW.status
      OR OLD.source IS NOT NEW.source OR OLD.suggested_emotion IS NOT NEW.suggested_emotion
      OR OLD.human_check IS NOT NEW.human_check
      OR (OLD.gold_emotion <> '') IS NOT (NEW.gold_emotion <> '')
    BEGIN {_upsert("OLD", -1)} {_upsert("NEW", 1)} END""",
]


def _columns(table: str) -> str:
    return (
        "dataset_id, status, source, suggested_emotion, human_check, "
        f"gold_emotion <> '' AS gold FROM {table}"
    )


def _pg_function(name: str, select: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO {TABLE} ({KEY}, n) {select};
      RETURN NULL;
    END $$"""


def _pg_trigger(event: str, tables: str) -> str:
    return f"""CREATE OR REPLACE TRIGGER queuecount_{event.lower()}
    AFTER {event} ON annotator_sample REFERENCING {tables} FOR EACH STATEMENT
    EXECUTE FUNCTION review_queuecount_{event.lower()}()"""


# Statement triggers: one aggregated delta row per bucket a statement changed (COPY and bulk
# inserts included); an update that moves no sample between buckets adds nothing.
POSTGRES_TRIGGERS = [
    _pg_function(
        "review_queuecount_insert",
        f"SELECT {KEY}, COUNT(*) FROM (SELECT {_columns('new_rows')}) c GROUP BY {KEY}",
    ),
    _pg_function(
        "review_queuecount_delete",
        f"SELECT {KEY}, -COUNT(*) FROM (SELECT {_columns('old_rows')}) c GROUP BY {KEY}",
    ),
    _pg_function(
        "review_queuecount_update",
        f"SELECT {KEY}, SUM(d) FROM (SELECT -1 AS d, {_columns('old_rows')} "
        f"UNION ALL SELECT 1 AS d, {_columns('new_rows')}) c GROUP BY {KEY} HAVING SUM(d) <> 0",
    ),
    _pg_trigger("INSERT", "NEW TABLE AS new_rows"),
    _pg_trigger("DELETE", "OLD TABLE AS old_rows"),
    _pg_trigger("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
]

RECOUNT = (
    f"INSERT INTO {TABLE} ({KEY}, n) "
    f"SELECT {KEY}, COUNT(*) FROM (SELECT {_columns('annotator_sample')}) c GROUP BY {KEY}"
)


KEPT = KeptCounts(
    name="QueueCount",
    table=TABLE,
    sqlite_triggers=SQLITE_TRIGGERS,
    postgres_triggers=POSTGRES_TRIGGERS,
    recount=RECOUNT,
    followed_tables=("annotator_sample",),
)


def install_and_recount(*, using: str = "default") -> None:
    """Create the triggers where missing and recount every bucket from annotator_sample."""
    kept_counts.install_and_recount(KEPT, using=using)


# One statement: rows a concurrent writer has not committed yet are not deleted (not visible
# to it), so they stay and are summed later; rows another compaction took are skipped.
COMPACT = (
    f"WITH moved AS (DELETE FROM {TABLE} RETURNING {KEY}, n) "
    f"INSERT INTO {TABLE} ({KEY}, n) SELECT {KEY}, SUM(n) FROM moved "
    f"GROUP BY {KEY} HAVING SUM(n) <> 0"
)


def compact(*, using: str = "default") -> None:
    """Fold PostgreSQL's delta rows into one per bucket (SQLite keeps one row per bucket)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [TABLE])
        (got,) = cursor.fetchone()
        if got:  # another request is folding them right now
            cursor.execute(COMPACT)


def drop_triggers(*, using: str = "default") -> None:
    connection = connections[using]
    on = " ON annotator_sample" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for event in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS queuecount_{event}{on}")
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP FUNCTION IF EXISTS review_queuecount_{event}()")
