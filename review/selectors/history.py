"""Reads behind a sample's history: its audit events and the versions of its final label."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import Sample
from review.labels import LABEL_FIELDS
from review.models import AuditEvent

# Fields of an event's before/after worth a line of their own, in this order.
SHOWN_FIELDS = ("version", "method", "annotator", *LABEL_FIELDS)
NOTHING = "—"
# A moment as the services write it into an event (datetime.isoformat()).
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S"  # as the history's own times (Django's "Y-m-d H:i:s")


def sample_events(*, sample: Sample) -> QuerySet[AuditEvent]:
    """The sample's audit events, newest first."""
    return AuditEvent.objects.filter(sample=sample).select_related("actor").order_by("-at", "-id")


def shown_moment(moment: datetime) -> str:
    """A moment in the site's time zone, to the second, as the pages show moments."""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime(MOMENT_FORMAT)


def shown_value(value: Any) -> str:
    """An event's value as a person reads it: yes/no, local moments, 5 for 5.0, — for none."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return shown_moment(value)
    if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
        try:
            return shown_moment(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:  # looks like a moment but is not one (month 13): as written
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    @property
    def before_text(self) -> str:
        return shown_value(self.before)

    @property
    def after_text(self) -> str:
        return shown_value(self.after)

    @property
    def changed(self) -> bool:
        """As a person sees it: 5 and 5.0, None and "" are no change."""
        return self.before_text != self.after_text


def event_changes(*, event: AuditEvent) -> list[FieldChange]:
    """The fields the event changed, before and after side by side, one row each."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    keys = [k for k in SHOWN_FIELDS if k in before or k in after]
    keys += sorted(k for k in {*before, *after} if k not in SHOWN_FIELDS)
    changes = (FieldChange(k, before.get(k), after.get(k)) for k in keys)
    return [change for change in changes if change.changed]
