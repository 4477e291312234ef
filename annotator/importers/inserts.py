"""New samples straight into their tables: the plain rows of annotator.importers.rows,
written by executemany on SQLite and COPY on PostgreSQL (psycopg 3's copy), no ORM SQL.
`insert_prepared` writes a batch of prepared lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from annotator.importers.rows import (
    PROPOSALS,
    REGIONS,
    SAMPLES,
    VERDICTS,
    PreparedLine,
    Row,
    Table,
)

# Re-exported: annotator.services.importing imports it from here.
from annotator.importers.rows import row_context as row_context


def insert_rows(*, table: Table, rows: Sequence[Row]) -> None:
    """Insert rows that already carry every column (Table.full)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in table.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_sql = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(table.columns))
            sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"
            cursor.executemany(sql, rows)


def insert_prepared(*, lines: Sequence[PreparedLine]) -> None:
    """Insert the samples, look up their ids, then their proposals, regions and verdicts."""
    if not lines:
        return
    insert_rows(table=SAMPLES, rows=[line.sample for line in lines])
    dataset_id = lines[0].sample[0]  # the first column of every sample row
    pks = _sample_ids(dataset_id, [line.external_id for line in lines])
    for table, part in ((PROPOSALS, 3), (REGIONS, 4), (VERDICTS, 5)):
        related = [(pks[line.external_id], *row) for line in lines for row in line[part]]
        insert_rows(table=table, rows=related)


def _sample_ids(dataset_id: int, ids: list[str]) -> dict[str, int]:
    """{external id: sample id}: looked up, not trusted from RETURNING, whose row order
    SQLite leaves open (and COPY returns nothing). PostgreSQL gets the ids as one array: a
    query of 500 placeholders cost more client CPU to bind than the server took to run it."""
    quote = connection.ops.quote_name
    params: list[Any]
    if connection.vendor == "postgresql":
        among, params = "= ANY(%s)", [dataset_id, ids]
    else:
        among, params = f"IN ({', '.join(['%s'] * len(ids))})", [dataset_id, *ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('external_id')}, {quote('id')} FROM {quote(SAMPLES.name)} "
            f"WHERE {quote('dataset_id')} = %s AND {quote('external_id')} {among}",
            params,
        )
        return dict(cursor.fetchall())
