"""Audit events: every change on the human side, with who, when, the state before and after."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotator.models import Sample
from annotator.services.audit_log import AuditEntry
from review.labels import label_of
from review.models import Adjudication, AuditEvent

# Actions written by the team-review services (a sample's history shows them).
LEASE = "lease"
SKIP = "skip"
ANSWER = "answer"
BINARY_VOTE = "binary_vote"
CONSENSUS = "consensus"
CONFLICT = "conflict"  # the answers disagree: the sample waits for an adjudicator
DECIDE = "decide"  # a person's or an adjudicator's final label
UNDO = "undo"
HUMAN_CHECK = "human_check"
CHANGE_ANSWER = "change_answer"  # a person changed their own answer before the label was final
TAKE_BACK = "take_back"  # a person took back a sample they had skipped


def record_event(
    *,
    sample: Sample | None,
    actor: Any,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; `actor` None means the system (e.g. a consensus)."""
    return AuditEvent.objects.create(
        sample=sample,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        before=before,
        after=after,
    )


def record_machine_entries(*, entries: Sequence[AuditEntry]) -> None:
    """The machine side's audit entries (registered in review.apps), in one INSERT."""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            sample_id=entry.sample_id,
            actor=entry.actor if getattr(entry.actor, "is_authenticated", False) else None,
            action=entry.action,
            before=entry.before,
            after=entry.after,
        )
        for entry in entries
    )


def adjudication_snapshot(adjudication: Adjudication | None) -> dict[str, Any] | None:
    """A final-label version as plain JSON for an audit event (None when there is none)."""
    if adjudication is None:
        return None
    return {
        "version": adjudication.version,
        "method": adjudication.method,
        "annotator": adjudication.annotator.username if adjudication.annotator else None,
        **label_of(adjudication).as_dict(),
        "reverted": adjudication.reverted,
    }
