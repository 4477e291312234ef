"""What an import tells people: the decisions it met, and one audit event per import."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from annotator.importers.decisions import ADJUDICATED, RESTORED, DecisionConflict
from annotator.services.audit_log import AuditEntry, write_audit_entries

if TYPE_CHECKING:
    from annotator.services.importing import ImportReport

IMPORT_ACTION = "import_samples"
OVERRIDE_FLAG = "--override-human-decisions"
MAX_NAMED = 10  # sample ids named per kind; the audit log has every one


def describe_decisions(
    conflicts: Sequence[DecisionConflict], *, overridden: bool, how_to_override: str = ""
) -> str:
    """ "" when the file contradicts nobody; else a sentence for the import's summary line."""
    if not conflicts:
        return ""
    parts = []
    for kind, what in ((RESTORED, "restored by an admin"), (ADJUDICATED, "with a final label")):
        ids = [c.external_id for c in conflicts if c.kind == kind]
        if ids:
            named = ", ".join(ids[:MAX_NAMED]) + (
                f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else ""
            )
            parts.append(f"{len(ids)} {what} ({named})")
    if overridden:
        return f"; the file's critic drop overrode people's decisions on {'; '.join(parts)}"
    return (
        f"; kept people's decisions the file's critic drop contradicts on {'; '.join(parts)} "
        f"({how_to_override or 'import again with ' + OVERRIDE_FLAG} to apply the file's verdict)"
    )


def record_import(*, shown: str, dataset: str, report: ImportReport, actor: Any) -> None:
    """One audit event per import (annotator.services.audit_log). Samples whose decision was
    kept or overridden have their own."""
    entry = AuditEntry(
        action=IMPORT_ACTION,
        sample_id=None,
        actor=actor,
        after={
            "file": shown,
            "dataset": dataset,
            "created": report.created,
            "updated": report.updated,
            "decisions_kept": 0 if report.overridden else len(report.conflicts),
            "decisions_overridden": len(report.conflicts) if report.overridden else 0,
        },
    )
    write_audit_entries(entries=[entry])
