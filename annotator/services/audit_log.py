"""The machine side's entries in the people's audit log, without importing the human side.

The audit log (review.models.AuditEvent) belongs to review, which depends on annotator; an
import that keeps or overrides people's decisions must still leave its trace there. So annotator
describes the entries and review registers the writer from its AppConfig.ready (as it registers
the label sources of annotator.services.taxonomies). With no writer registered nothing is logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditEntry:
    action: str
    sample_id: int | None  # None: an event about no one sample (a whole import)
    actor: Any = None  # a user; None or an anonymous user is the system
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditWriter(Protocol):
    def __call__(self, *, entries: Sequence[AuditEntry]) -> None: ...


_writers: list[AuditWriter] = []


def register_audit_writer(writer: AuditWriter) -> None:
    """Send every entry to `writer` too (idempotent: ready() may run twice)."""
    if writer not in _writers:
        _writers.append(writer)


def write_audit_entries(*, entries: Sequence[AuditEntry]) -> None:
    """Hand the entries to the registered writers, in the caller's transaction."""
    if not entries:
        return
    for writer in _writers:
        writer(entries=entries)
