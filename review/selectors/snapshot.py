"""One consistent read: every query of a long read (an export) sees the database at one moment.

Without it each batch query of an export saw whatever had committed by then, so an export
taken during a re-import mixed old and new rows at the batch edges.

- PostgreSQL: one transaction whose first statement is SET TRANSACTION ISOLATION LEVEL
  REPEATABLE READ READ ONLY: the snapshot is taken at the first read and kept to the end;
  writers are never blocked and a write inside the read fails loudly.
- SQLite: one deferred read transaction (plain BEGIN, not the IMMEDIATE mode the settings use
  for writes, which would take the write lock for the whole export). In WAL mode, the default
  here, the reader sees the database as of its first read while writers go on committing (the
  WAL grows until the read ends). Without WAL its shared lock keeps writers from committing
  until the read ends: consistent too, but writers wait (up to the busy timeout).
- Inside a caller's transaction nothing is opened: the caller's isolation applies.

A generator may hold the snapshot across its yields (a streamed download opens it on the first
chunk and closes it when the response is closed), as long as nothing else uses the connection's
transactions on that thread in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction

POSTGRES_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"


@contextmanager
def consistent_snapshot(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block's queries in one read transaction (see the module docstring)."""
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "sqlite":
        with _deferred_sqlite_transaction(using=using):
            yield
        return
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            # Must be the transaction's first statement; psycopg has only sent BEGIN so far.
            with connection.cursor() as cursor:
                cursor.execute(POSTGRES_SNAPSHOT)
        yield


@contextmanager
def _deferred_sqlite_transaction(*, using: str) -> Iterator[None]:
    """transaction.atomic, but begun with a plain (deferred) BEGIN: it takes no write lock."""
    connection = connections[using]
    mode = getattr(connection, "transaction_mode", None)
    connection.transaction_mode = None  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=using):
            connection.transaction_mode = mode  # type: ignore[attr-defined]  # BEGIN is sent
            yield
    finally:
        connection.transaction_mode = mode  # type: ignore[attr-defined]
