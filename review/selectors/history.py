"""Reads behind a sample's history: its audit events and the versions of its final label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from annotator.models import Sample
from review.labels import LABEL_FIELDS
from review.models import AuditEvent

# Fields of an event's before/after worth a line of their own, in this order.
SHOWN_FIELDS = ("version", "method", "annotator", *LABEL_FIELDS)


def sample_events(*, sample: Sample) -> QuerySet[AuditEvent]:
    """The sample's audit events, newest first."""
    return AuditEvent.objects.filter(sample=sample).select_related("actor").order_by("-at", "-id")


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return self.before != self.after


def event_changes(*, event: AuditEvent) -> list[FieldChange]:
    """The event's before/after side by side, one row per field either side has."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    keys = [k for k in SHOWN_FIELDS if k in before or k in after]
    keys += sorted(k for k in {*before, *after} if k not in SHOWN_FIELDS)
    return [FieldChange(k, before.get(k), after.get(k)) for k in keys]
