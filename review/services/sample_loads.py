"""Keeps review.models_queue.SampleLoad: the triggers that maintain it and a recount.

Row triggers on answers and votes add one to or take one from their sample's `n` (and answers
to `answers`); a new lease makes sure its sample has a row; sample writes keep `dataset_id`,
`disputed`, `open` and `gold`. As with
QueueCount (services.queue_counts), the triggers are reinstalled and the rows recounted after
every `migrate` and `flush` (post_migrate): a SQLite migration that rebuilds a table drops its
triggers, and `flush` empties tables in no fixed order.
"""

from __future__ import annotations

from django.db import connections

from review.services import kept_counts
from review.services.kept_counts import KeptCounts

TABLE = "review_sampleload"
SAMPLES = "annotator_sample"
PEOPLE = ("review_annotation", "review_binaryvote")  # each row is one unit of a sample's load
LEASES = "review_assignment"
COLUMNS = "sample_id, dataset_id, n, answers, disputed, open, gold"
ANSWERS = PEOPLE[0]  # its rows also count in `answers`


def _flags(row: str) -> str:
    """disputed, open and gold of an annotator_sample row (review.selectors.assignment.open_q)."""
    return (
        f"{row}.status = 'disputed', "
        f"({row}.status = 'disputed' OR ({row}.status = 'agreed' AND {row}.human_check)), "
        f"{row}.gold_emotion <> ''"
    )


def _upsert(sample_id: str, n: int, answers: int, *, qualified: str = "") -> str:
    """The row of sample `sample_id` with `n` more load and `answers` more answers (both 0:
    only made sure to exist). `qualified`: the table and a dot where the old row needs naming."""
    q = qualified
    conflict = (
        "DO NOTHING"
        if n == 0
        else f"DO UPDATE SET n = {q}n + {n}, answers = {q}answers + {answers}"
    )
    return (
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT s.id, s.dataset_id, {n}, {answers}, "
        f"{_flags('s')} FROM {SAMPLES} s WHERE s.id = {sample_id} "
        f"ON CONFLICT (sample_id) {conflict};"
    )


def _take(sample_id: str, answers: int) -> str:
    return (
        f"UPDATE {TABLE} SET n = n - 1, answers = answers - {answers} "
        f"WHERE sample_id = {sample_id};"
    )


def _sqlite_people(table: str) -> list[str]:
    name = f"sampleload_{table.removeprefix('review_')}"
    a = int(table == ANSWERS)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} "
        f"BEGIN {_upsert('NEW.sample_id', 1, a)} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} "
        f"BEGIN {_take('OLD.sample_id', a)} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_move AFTER UPDATE OF sample_id ON {table} "
        f"WHEN OLD.sample_id IS NOT NEW.sample_id "
        f"BEGIN {_take('OLD.sample_id', a)} {_upsert('NEW.sample_id', 1, a)} END",
    ]


_SAMPLE_FLAGS = "dataset_id, status, gold_emotion, human_check"
SQLITE_TRIGGERS = [
    *_sqlite_people(PEOPLE[0]),
    *_sqlite_people(PEOPLE[1]),
    f"CREATE TRIGGER IF NOT EXISTS sampleload_lease AFTER INSERT ON {LEASES} "
    f"BEGIN {_upsert('NEW.sample_id', 0, 0)} END",
    f"""CREATE TRIGGER IF NOT EXISTS sampleload_sample_update
    AFTER UPDATE OF {_SAMPLE_FLAGS} ON {SAMPLES}
    BEGIN UPDATE {TABLE} SET dataset_id = NEW.dataset_id, (disputed, open, gold) =
        (SELECT {_flags("NEW")}) WHERE sample_id = NEW.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS sampleload_sample_delete AFTER DELETE ON {SAMPLES}
    BEGIN DELETE FROM {TABLE} WHERE sample_id = OLD.id; END""",
]


# PostgreSQL: a function for answers and one for votes (row triggers: a sample's answers take
# turns under its row lock anyway), one for leases, and statement triggers on samples (an
# import or a pipeline run updates 219K rows in one statement: one join, not 219K calls).
def _pg_people_function(table: str) -> str:
    a = int(table == ANSWERS)
    return f"""CREATE OR REPLACE FUNCTION review_sampleload_{table.removeprefix("review_")}()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN {_take("OLD.sample_id", a)} END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_upsert("NEW.sample_id", 1, a, qualified=TABLE + ".")}
  END IF;
  RETURN NULL;
END $$"""


_PG_LEASE = f"""CREATE OR REPLACE FUNCTION review_sampleload_lease() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN {_upsert("NEW.sample_id", 0, 0)} RETURN NULL; END $$"""
_PG_SAMPLE_UPDATE = f"""CREATE OR REPLACE FUNCTION review_sampleload_sample_update()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TABLE} l SET dataset_id = s.dataset_id, (disputed, open, gold) = (SELECT {_flags("s")})
    FROM new_rows s WHERE l.sample_id = s.id
      AND (l.dataset_id, l.disputed, l.open, l.gold) IS DISTINCT FROM (s.dataset_id, {_flags("s")});
  RETURN NULL;
END $$"""
_PG_SAMPLE_DELETE = f"""CREATE OR REPLACE FUNCTION review_sampleload_sample_delete()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM {TABLE} l USING old_rows s WHERE l.sample_id = s.id; RETURN NULL; END $$"""


def _pg_people(table: str) -> str:
    name = f"sampleload_{table.removeprefix('review_')}"
    return (
        f"CREATE OR REPLACE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF sample_id "
        f"ON {table} FOR EACH ROW EXECUTE FUNCTION review_{name}()"
    )


POSTGRES_TRIGGERS = [
    _pg_people_function(PEOPLE[0]),
    _pg_people_function(PEOPLE[1]),
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
    f"INSERT INTO {TABLE} ({COLUMNS}) SELECT s.id, s.dataset_id, p.n, p.answers, {_flags('s')} "
    f"FROM (SELECT sample_id, SUM(n) AS n, SUM(a) AS answers FROM ("
    f"SELECT sample_id, 1 AS n, 1 AS a FROM {PEOPLE[0]} "
    f"UNION ALL SELECT sample_id, 1, 0 FROM {PEOPLE[1]} "
    f"UNION ALL SELECT sample_id, 0, 0 FROM {LEASES}) AS rows GROUP BY sample_id) AS p "
    f"JOIN {SAMPLES} s ON s.id = p.sample_id"
)


KEPT = KeptCounts(
    name="SampleLoad",
    table=TABLE,
    sqlite_triggers=SQLITE_TRIGGERS,
    postgres_triggers=POSTGRES_TRIGGERS,
    recount=RECOUNT,
    followed_tables=(*PEOPLE, LEASES, SAMPLES),
)


def install_and_recount(*, using: str = "default") -> None:
    """Create the triggers where missing and recount every row from people's tables."""
    kept_counts.install_and_recount(KEPT, using=using)


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
        for name in ("annotation", "binaryvote", "lease", "sample_update", "sample_delete"):
            cursor.execute(f"DROP FUNCTION IF EXISTS review_sampleload_{name}()")
