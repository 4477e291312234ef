"""Writing a sample's status: status_changed_at moves only when the status really changes.

The export gives an agreed sample's decided_at from status_changed_at, so an identical
re-import (same status) or a re-verification that lands where it was must leave it alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Case, DateTimeField, F, Value, When
from django.utils import timezone


def status_fields(status: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Keywords for QuerySet.update() that set `status`; status_changed_at becomes `now` where
    the row's status differs (or was never stamped), and stays elsewhere. Both SQLite and
    PostgreSQL evaluate the CASE on the row before the update."""
    stamp = now or timezone.now()
    return {
        "status": status,
        "status_changed_at": Case(
            When(status=status, status_changed_at__isnull=False, then=F("status_changed_at")),
            default=Value(stamp),
            output_field=DateTimeField(),
        ),
    }


def set_status(sample: Any, status: str, *, now: datetime | None = None) -> list[str]:
    """Set `status` on a Sample instance, stamping status_changed_at when it changes (or was
    never stamped); returns the fields to save. Use on a row read under its lock."""
    if sample.status != status or sample.status_changed_at is None:
        sample.status_changed_at = now or timezone.now()
    sample.status = status
    return ["status", "status_changed_at", "updated_at"]
