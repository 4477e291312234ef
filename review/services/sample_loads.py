"""Keeps review.models_queue.SampleLoad: the triggers that maintain it and a recount.

Row triggers on answers and votes add one to or take one from their sample's `n`; a new lease
makes sure its sample has a row; sample writes keep `dataset_id`, `disputed` and `gold`. As with
QueueCount (services.queue_counts), the triggers are reinstalled and the rows recounted after
every `migrate` and `flush` (post_migrate): a SQLite migration that rebuilds a table drops its
triggers, and `flush` empties tables in no fixed order.
"""

from __future__ import annotations

from django.db import connections, transaction

TABLE = "review_sampleload"
SAMPLES = "annotator_sample"
PEOPLE = ("review_annotation", "review_binaryvote")  # each row is one unit of a sample's load
LEASES = "review_assignment"
COLUMNS = "sample_id, dataset_id, n, disputed, gold"


def _upsert(sample_id: str, n: int, *, qualified: str = "") -> str:
    """The row of sample `sample_id` with `n` more (n = 0: only made sure to exist).
    `qualified`: the table name and a dot where the database needs the old row named."""
    conflict = "DO NOTHING" if n == 0 else f"DO UPDATE SET n = {qualified}n + {n}"
    return (
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT s.id, s.dataset_id, {n}, "
        f"s.status = 'disputed', s.gold_emotion <> '' FROM {SAMPLES} s "
        f"WHERE s.id = {sample_id} ON CONFLICT (sample_id) {conflict};"
    )


def _take(sample_id: str) -> str:
    return f"UPDATE {TABLE} SET n = n - 1 WHERE sample_id = {sample_id};"


def _sqlite_people(table: str) -> list[str]:
    name = f"sampleload_{table.removeprefix('review_')}"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} "
        f"BEGIN {_upsert('NEW.sample_id', 1)} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} "
        f"BEGIN {_take('OLD.sample_id')} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_move AFTER UPDATE OF sample_id ON {table} "
        f"WHEN OLD.sample_id IS NOT NEW.sample_id "
        f"BEGIN {_take('OLD.sample_id')} {_upsert('NEW.sample_id', 1)} END",
    ]


SQLITE_TRIGGERS = [
    *_sqlite_people(PEOPLE[0]),
    *_sqlite_people(PEOPLE[1]),
    f"CREATE TRIGGER IF NOT EXISTS sampleload_lease AFTER INSERT ON {LEASES} "
    f"BEGIN {_upsert('NEW.sample_id', 0)} END",
    f"""CREATE TRIGGER IF NOT EXISTS sampleload_sample_update
    AFTER UPDATE OF dataset_id, status, gold_emotion ON {SAMPLES}
    BEGIN UPDATE {TABLE} SET dataset_id = NEW.dataset_id, disputed = NEW.status = 'disputed',
        gold = NEW.gold_emotion <> '' WHERE sample_id = NEW.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS sampleload_sample_delete AFTER DELETE ON {SAMPLES}
    BEGIN DELETE FROM {TABLE} WHERE sample_id = OLD.id; END""",
]

# PostgreSQL: one function for answers and votes (a row trigger: a sample's answers take turns
# under its row lock anyway), one for leases, and statement triggers on samples (an import or a
# pipeline run updates 219K rows in one statement: one join, not 219K trigger calls).
_PG_PEOPLE = f"""CREATE OR REPLACE FUNCTION review_sampleload_people() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN {_take("OLD.sample_id")} END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_upsert("NEW.sample_id", 1, qualified=TABLE + ".")}
  END IF;
  RETURN NULL;
END $$"""
_PG_LEASE = f"""CREATE OR REPLACE FUNCTION review_sampleload_lease() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN {_upsert("NEW.sample_id", 0)} RETURN NULL; END $$"""
_PG_SAMPLE_UPDATE = f"""CREATE OR REPLACE FUNCTION review_sampleload_sample_update()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TABLE} l SET dataset_id = s.dataset_id, disputed = s.status = 'disputed',
      gold = s.gold_emotion <> ''
    FROM new_rows s WHERE l.sample_id = s.id AND (l.dataset_id <> s.dataset_id
      OR l.disputed <> (s.status = 'disputed') OR l.gold <> (s.gold_emotion <> ''));
  RETURN NULL;
END $$"""
_PG_SAMPLE_DELETE = f"""CREATE OR REPLACE FUNCTION review_sampleload_sample_delete()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM {TABLE} l USING old_rows s WHERE l.sample_id = s.id; RETURN NULL; END $$"""


def _pg_people(table: str) -> str:
    name = f"sampleload_{table.removeprefix('review_')}"
    return (
        f"CREATE OR REPLACE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF sample_id "
        f"ON {table} FOR EACH ROW EXECUTE FUNCTION review_sampleload_people()"
    )


POSTGRES_TRIGGERS = [
    _PG_PEOPLE,
    _PG_LEASE,
    _PG_SAMPLE_UPDATE,
    _PG_SAMPLE_DELETE,
    _pg_people(PEOPLE[0]),
    _pg_people(PEOPLE[1]),
    f"CREATE OR REPLACE TRIGGER sampleload_lease AFTER INSERT ON {LEASES} "
    "FOR EACH ROW EXECUTE FUNCTION review_sampleload_lease()",
    f"CREATE OR REPLACE TRIGGER sampleload_sample_update AFTER UPDATE ON {SAMPLES} "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION review_sampleload_sample_update()",
    f"CREATE OR REPLACE TRIGGER sampleload_sample_delete AFTER DELETE ON {SAMPLES} "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION review_sampleload_sample_delete()",
]

RECOUNT = (
    f"INSERT INTO {TABLE} ({COLUMNS}) "
    "SELECT s.id, s.dataset_id, p.n, s.status = 'disputed', s.gold_emotion <> '' "
    f"FROM (SELECT sample_id, SUM(n) AS n FROM ("
    f"SELECT sample_id, 1 AS n FROM {PEOPLE[0]} UNION ALL SELECT sample_id, 1 FROM {PEOPLE[1]} "
    f"UNION ALL SELECT sample_id, 0 FROM {LEASES}) AS rows GROUP BY sample_id) AS p "
    f"JOIN {SAMPLES} s ON s.id = p.sample_id"
)


def install_and_recount(*, using: str = "default") -> None:
    """Create the triggers where missing and recount every row from people's tables."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise RuntimeError(f"SampleLoad's triggers exist for SQLite and PostgreSQL, not {vendor}")
    if TABLE not in connection.introspection.table_names():
        return  # migrated back to before it
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if vendor == "postgresql":
            # No answer, vote, lease or sample write may land between the DELETE and the recount.
            tables = ", ".join((*PEOPLE, LEASES, SAMPLES))
            cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE")
        for sql in SQLITE_TRIGGERS if vendor == "sqlite" else POSTGRES_TRIGGERS:
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(RECOUNT)


def drop_triggers(*, using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for sql in SQLITE_TRIGGERS:
                name = sql.split("EXISTS ", 1)[1].split()[0]
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            return
        for table in PEOPLE:
            cursor.execute(
                f"DROP TRIGGER IF EXISTS sampleload_{table.removeprefix('review_')} ON {table}"
            )
        cursor.execute(f"DROP TRIGGER IF EXISTS sampleload_lease ON {LEASES}")
        for event in ("update", "delete"):
            cursor.execute(f"DROP TRIGGER IF EXISTS sampleload_sample_{event} ON {SAMPLES}")
        for name in ("people", "lease", "sample_update", "sample_delete"):
            cursor.execute(f"DROP FUNCTION IF EXISTS review_sampleload_{name}()")
