"""One value from the database, for tests that read the server's catalogs and settings."""

from __future__ import annotations

from django.db import connection


def scalar(sql: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]
