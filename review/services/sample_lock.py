"""One writer at a time on a sample's masks: the web side (services/masks.py) and the worker
(services/mask_worker.py) both take this lock before they touch seq numbers, the head edit or
the person's Region of an element."""

from __future__ import annotations

from django.db import connection

from annotator.models import Sample


def lock_sample_for_mask_writes(*, sample_id: int) -> None:
    """Lock the sample's row until the surrounding transaction ends (PostgreSQL). SQLite's
    IMMEDIATE transactions already take the write lock at BEGIN, and it has no FOR UPDATE
    (the query would be a plain SELECT: skipped)."""
    if connection.features.has_select_for_update:
        Sample.objects.select_for_update().filter(pk=sample_id).values_list("pk").first()
