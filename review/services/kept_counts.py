"""What QueueCount and SampleLoad share: triggers installed where missing, then the table
recounted from the rows it follows, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections, transaction


@dataclass(frozen=True)
class KeptCounts:
    name: str  # the model, for the error message
    table: str
    sqlite_triggers: Sequence[str]
    postgres_triggers: Sequence[str]
    recount: str
    # PostgreSQL: locked while the table is emptied and recounted (no write may land between).
    followed_tables: Sequence[str]


def install_and_recount(kept: KeptCounts, *, using: str) -> None:
    """Create the triggers where missing and recount every row."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise RuntimeError(f"{kept.name}'s triggers exist for SQLite and PostgreSQL, not {vendor}")
    if kept.table not in connection.introspection.table_names():
        return  # migrated back to before it
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {', '.join(kept.followed_tables)} IN SHARE MODE")
        for sql in kept.sqlite_triggers if vendor == "sqlite" else kept.postgres_triggers:
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {kept.table}")
        cursor.execute(kept.recount)
