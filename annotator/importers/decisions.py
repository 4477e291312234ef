"""People's decisions a re-import would override: found per batch, kept unless told otherwise.

Two decisions can be contradicted by a file's critic verdict `drop`:

- restored: an admin overruled the critic's drop (review.services.dropped_samples
  .restore_dropped_sample writes a person-origin preserve verdict, the sample's latest);
- adjudicated: a person, a consensus or an adjudicator gave the sample its final label.

Kept (the default), a restored sample keeps its verdicts as they are (the file's verdict is
not stored: it would become the latest and drop the sample at the next verification) and an
adjudicated sample keeps its status. Overridden, the file's verdict is stored as for any
sample and decides the status. Either way each sample gets an audit event naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annotator.importers.records import ParsedRecord
from annotator.models import CriticVerdict, Sample
from annotator.services.audit_log import AuditEntry, write_audit_entries

RESTORED = "restored"
ADJUDICATED = "adjudicated"
KEPT_ACTION = "import_kept_decision"
OVERRIDDEN_ACTION = "import_overrode_decision"
PERSON_ORIGIN = "person"


@dataclass(frozen=True)
class DecisionConflict:
    """One sample whose person's decision the file contradicts."""

    sample_id: int
    external_id: str
    kind: str  # RESTORED or ADJUDICATED
    status_before: str
    file_verdict: dict[str, str]  # the file's critic verdict, kept in the audit event


def find_conflicts(
    *, records: Sequence[tuple[int, ParsedRecord]], statuses: Mapping[int, str], new: set[int]
) -> dict[int, DecisionConflict]:
    """{sample id: conflict} for the existing samples of a batch whose file verdict is `drop`
    while a person decided otherwise. `statuses`: each sample's status before the import."""
    dropping = {
        pk: record
        for pk, record in records
        if pk not in new
        and record.critic is not None
        and record.critic.verdict == CriticVerdict.Verdict.DROP
    }
    if not dropping:
        return {}
    restored = _restored(list(dropping))
    conflicts = {}
    for pk, record in dropping.items():
        if statuses[pk] == Sample.Status.ADJUDICATED:
            kind = ADJUDICATED
        elif pk in restored:
            kind = RESTORED
        else:
            continue
        conflicts[pk] = DecisionConflict(
            sample_id=pk,
            external_id=record.external_id,
            kind=kind,
            status_before=statuses[pk],
            file_verdict=_verdict_json(record),
        )
    return conflicts


def _restored(ids: list[int]) -> set[int]:
    """The samples whose latest verdict is a person's preserve (an admin's restore)."""
    latest: dict[int, tuple[object, str]] = {}
    rows = (
        CriticVerdict.objects.filter(sample_id__in=ids)
        .order_by("sample_id", "-created_at", "-id")
        .values_list("sample_id", "checks", "verdict")
    )
    for sample_id, checks, verdict in rows:
        origin = checks.get("origin") if isinstance(checks, dict) else None
        latest.setdefault(sample_id, (origin, verdict))
    return {
        pk
        for pk, (origin, verdict) in latest.items()
        if origin == PERSON_ORIGIN and verdict != CriticVerdict.Verdict.DROP
    }


def _verdict_json(record: ParsedRecord) -> dict[str, str]:
    critic = record.critic
    assert critic is not None
    return {
        "model": critic.model_name,
        "verdict": critic.verdict,
        "emotion": critic.emotion,
        "reasoning": critic.reasoning[:500],
    }


def record_conflicts(
    *,
    conflicts: Sequence[DecisionConflict],
    statuses_after: Mapping[int, str],
    overridden: bool,
    shown: str,
    actor: Any,
) -> None:
    """One audit event per sample, in the sample's history (annotator.services.audit_log)."""
    write_audit_entries(
        entries=[
            AuditEntry(
                sample_id=conflict.sample_id,
                actor=actor,
                action=OVERRIDDEN_ACTION if overridden else KEPT_ACTION,
                before={"status": conflict.status_before, "decision": conflict.kind},
                after={
                    "status": statuses_after.get(conflict.sample_id, conflict.status_before),
                    "file": shown,
                    "file_verdict": conflict.file_verdict,
                },
            )
            for conflict in conflicts
        ]
    )
