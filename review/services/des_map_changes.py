"""A per-dataset mark of DES writes, kept by the database, so the DES map's staleness check
(review.selectors.des_map.des_cache_key) reads one small row instead of every sample.

The mark only says "the vectors may have changed": the key itself is still computed from the
vectors (their count, sums and heads), then cached under the mark, so writing the drawn bytes
back leaves the map current. Triggers on `annotator_sample` move it on every write path at once
(imports, admin edits, raw SQL, deletes), in the writer's own transaction:

- SQLite (one writer at a time): one row per dataset, moved by row triggers when a sample with
  a DES comes or goes, or its DES (or dataset) really changes. Its value follows the clock,
  max(n + 1, microseconds since 1970), so a rolled-back write's value does not come back.
- PostgreSQL: a statement trigger appends one row (dataset 0: every dataset) per statement that
  inserts, deletes or truncates samples or sets `des`; appending, never updating a shared row,
  keeps concurrent writers from waiting on each other (as QueueCount's deltas). The mark is the
  rows' count and largest id (a sequence: never reused), so a transaction committing late still
  moves it. compact folds the rows now and then. People's reviews do not set `des`.

The table is plain SQL, not a model: Django's `flush` leaves it, so a mark never goes back.
install (the migration) also moves every dataset's mark, since writes made while triggers were
missing went unmarked; reinstall is the same for post_migrate, as QueueCount's (a SQLite
migration that rebuilds annotator_sample drops its triggers). While any trigger is missing the
key is read from the vectors every time (des_generation returns None).
"""

from __future__ import annotations

from django.db import connections, transaction

TABLE = "review_deschange"
SQLITE_TRIGGERS = ("deschange_insert", "deschange_delete", "deschange_update")
POSTGRES_TRIGGER = "deschange_write"
EVERY_DATASET = 0
COMPACT_ABOVE = 200  # PostgreSQL rows kept before compact folds them

_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"


def _sqlite_mark(dataset: str) -> str:
    return (
        f"INSERT INTO {TABLE} (dataset_id, n) VALUES ({dataset}, {_NOW_US}) "
        "ON CONFLICT (dataset_id) DO UPDATE SET n = max(n + 1, excluded.n);"
    )


SQLITE_INSTALL = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY AUTOINCREMENT,
    dataset_id bigint NOT NULL, n bigint NOT NULL)""",
    f"CREATE UNIQUE INDEX IF NOT EXISTS deschange_dataset ON {TABLE} (dataset_id)",
    f"""CREATE TRIGGER IF NOT EXISTS deschange_insert AFTER INSERT ON annotator_sample
    WHEN NEW.des IS NOT NULL BEGIN {_sqlite_mark("NEW.dataset_id")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS deschange_delete AFTER DELETE ON annotator_sample
    WHEN OLD.des IS NOT NULL BEGIN {_sqlite_mark("OLD.dataset_id")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS deschange_update
    AFTER UPDATE OF des, dataset_id ON annotator_sample
    WHEN OLD.des IS NOT NEW.des OR OLD.dataset_id IS NOT NEW.dataset_id
    BEGIN {_sqlite_mark("OLD.dataset_id")} {_sqlite_mark("NEW.dataset_id")} END""",
    _sqlite_mark(str(EVERY_DATASET)),
]

POSTGRES_INSTALL = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY,
    dataset_id bigint NOT NULL, n bigint NOT NULL)""",
    f"""CREATE OR REPLACE FUNCTION review_deschange() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO {TABLE} (dataset_id, n) VALUES ({EVERY_DATASET}, 1);
      RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE TRIGGER {POSTGRES_TRIGGER}
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF des, dataset_id ON annotator_sample
    FOR EACH STATEMENT EXECUTE FUNCTION review_deschange()""",
    f"INSERT INTO {TABLE} (dataset_id, n) VALUES ({EVERY_DATASET}, 1)",
]

# The mark of a dataset, and how many of the triggers are in place (one statement).
SQLITE_MARK = (
    "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
    f"AND tbl_name = 'annotator_sample' AND name IN {SQLITE_TRIGGERS!r}), "
    f"COUNT(*), MAX(id), SUM(n) FROM {TABLE} WHERE dataset_id IN (%s, {EVERY_DATASET})"
)
POSTGRES_MARK = (
    "SELECT (SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'annotator_sample'::regclass "
    f"AND tgname = '{POSTGRES_TRIGGER}' AND tgenabled <> 'D'), "
    f"COUNT(*), MAX(id), SUM(n) FROM {TABLE} WHERE dataset_id IN (%s, {EVERY_DATASET})"
)


def install(*, using: str = "default") -> None:
    """Create the table and the triggers where missing, and move every dataset's mark."""
    connection = connections[using]
    statements = {"sqlite": SQLITE_INSTALL, "postgresql": POSTGRES_INSTALL}.get(connection.vendor)
    if statements is None:
        raise RuntimeError("DES change triggers exist for SQLite and PostgreSQL only")
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def reinstall(*, using: str = "default") -> None:
    """install, for after every migrate and flush (post_migrate), unless migrated back to
    before the table (review 0013)."""
    if TABLE in connections[using].introspection.table_names():
        install(using=using)


def uninstall(*, using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {POSTGRES_TRIGGER} ON annotator_sample")
            cursor.execute("DROP FUNCTION IF EXISTS review_deschange()")
        else:
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def des_generation(*, dataset_id: int, using: str = "default") -> str | None:
    """The dataset's mark: it moves whenever its DES may have changed. None when the triggers
    are not all in place (the caller then reads the vectors)."""
    connection = connections[using]
    vendor = connection.vendor
    sql = {"sqlite": SQLITE_MARK, "postgresql": POSTGRES_MARK}.get(vendor)
    if sql is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, [dataset_id])
        triggers, rows, last, total = cursor.fetchone()
    expected = len(SQLITE_TRIGGERS) if vendor == "sqlite" else 1
    return f"{rows}.{last}.{total}" if triggers == expected else None


# One statement, as QueueCount's: rows a concurrent writer has not committed stay for later.
POSTGRES_COMPACT = (
    f"WITH moved AS (DELETE FROM {TABLE} RETURNING dataset_id, n) "
    f"INSERT INTO {TABLE} (dataset_id, n) SELECT dataset_id, SUM(n) FROM moved GROUP BY dataset_id"
)


def compact(*, using: str = "default") -> None:
    """Fold PostgreSQL's appended rows into one once there are COMPACT_ABOVE (the mark moves:
    each map's key is read again once)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) > %s FROM {TABLE}", [COMPACT_ABOVE])
        if not cursor.fetchone()[0]:
            return
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [TABLE])
        if cursor.fetchone()[0]:  # else another process is folding them right now
            cursor.execute(POSTGRES_COMPACT)
