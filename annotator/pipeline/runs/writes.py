"""The rows that recording units writes, gathered and written a few statements at a time.

In a profile of the chunk path (issue 13 §5) building the ORM's statements cost more CPU than
the database took to run them: bulk_update's CASE per field and row, status_fields' Case, the
filters of an UPDATE per unit and sample. Here each kind of row is one parameterized statement
run with executemany (psycopg sends the rows in one pipeline), the values prepared by the
model's own fields and status_fields' rule compiled once a process. A chunk's transaction
gathers its rows in one RowWrites and writes them before it commits; one unit's transaction
does the same with its own few rows.

Nothing in the recording transaction reads these rows back before `flush`: the round's unit
statuses are kept in memory (RoundUnits), the critic's verdict is handed to the verification,
and the proposals, which verify does read, are written first (`upsert_proposals`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from annotator.models import CriticVerdict, Proposal, Sample, StageResult
from annotator.proposal_fields import PROPOSAL_FIELDS
from annotator.services.sample_status import status_fields

ADJUDICATED = Sample.Status.ADJUDICATED.value


@dataclass(frozen=True)
class SampleVerification:
    """A sample's status and vote after verification (a sample people adjudicated is kept)."""

    sample_id: int
    status: str
    suggested_emotion: str
    vote_margin: float | None
    dispute_reasons: list[dict[str, object]]


@dataclass
class RowWrites:
    units: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (id, values)
    verified: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # inline verify
    samples: list[SampleVerification] = field(default_factory=list)
    verdicts: list[CriticVerdict] = field(default_factory=list)

    def flush(self) -> None:
        if self.verdicts:
            CriticVerdict.objects.bulk_create(self.verdicts)
        update_rows(StageResult, self.units)
        update_rows(StageResult, self.verified, extra_set='"attempts" = "attempts" + 1')
        update_samples(self.samples)
        self.units, self.verified, self.samples, self.verdicts = [], [], [], []


def upsert_proposals(proposals: Sequence[Proposal]) -> None:
    """One model's proposal per sample, inserted or replaced, in one statement (the last of
    two for the same sample and model wins, as two statements would)."""
    latest = {(p.sample_id, p.model_name): p for p in proposals}
    if not latest:
        return
    now = timezone.now()
    for proposal in latest.values():
        proposal.updated_at = now
    Proposal.objects.bulk_create(
        list(latest.values()),
        update_conflicts=True,
        unique_fields=["sample", "model_name"],
        update_fields=PROPOSAL_FIELDS,
    )


def update_rows(
    model: type[Model], rows: list[tuple[int, dict[str, Any]]], *, extra_set: str = ""
) -> None:
    """UPDATE each row (id, {field: value}) by id: one executemany per set of fields."""
    groups: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for pk, values in rows:
        groups.setdefault(tuple(values), []).append((pk, values))
    meta = model._meta
    for names, group in groups.items():
        fields = [meta.get_field(name) for name in names]
        assignments = [f'"{f.column}" = %s' for f in fields] + ([extra_set] if extra_set else [])  # type: ignore[union-attr]
        sql = f'UPDATE "{meta.db_table}" SET {", ".join(assignments)} WHERE "id" = %s'
        params = [
            [f.get_db_prep_save(values[f.name], connection) for f in fields] + [pk]  # type: ignore[union-attr]
            for pk, values in group
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


# Stand-ins for the status and the stamp, compiled into status_fields' SQL and found again
# among its parameters (status_assignments).
_STATUS_SLOT = "\x00status"
_STAMP_SLOT = datetime(1900, 1, 1, tzinfo=UTC)


@functools.cache
def status_assignments(vendor: str) -> tuple[str, tuple[str, ...]]:
    """annotator.services.sample_status.status_fields compiled once for this database `vendor`
    (the connection's): its SET assignments as SQL, and what each %s takes, "status" or
    "stamp". The rule stays in one place, and this costs no ORM work per row."""
    query = UpdateQuery(Sample)
    compiler = query.get_compiler(connection=connection)
    meta = Sample._meta
    stamp = meta.get_field("status_changed_at").get_db_prep_save(_STAMP_SLOT, connection)  # type: ignore[union-attr]
    slot_of = {_STATUS_SLOT: "status", stamp: "stamp"}
    assignments, slots = [], []
    for name, value in status_fields(_STATUS_SLOT, now=_STAMP_SLOT).items():
        if hasattr(value, "resolve_expression"):
            resolved = value.resolve_expression(query, allow_joins=False, for_save=True)
            sql, params = compiler.compile(resolved)
        else:
            sql, params = "%s", [meta.get_field(name).get_db_prep_save(value, connection)]  # type: ignore[union-attr]
        unknown = [param for param in params if param not in slot_of]
        if unknown:
            raise ValueError(f"status_fields' {name} takes values update_samples lacks: {unknown}")
        assignments.append(f'"{meta.get_field(name).column}" = {sql}')  # type: ignore[union-attr]
        slots += [slot_of[param] for param in params]
    return ", ".join(assignments), tuple(slots)


def update_samples(rows: list[SampleVerification], *, now: datetime | None = None) -> None:
    """Store verifications, each sample's status set by status_fields' rule (status_changed_at
    moves only where the status really changes), compiled by status_assignments; a sample
    people adjudicated is kept."""
    if not rows:
        return
    stamp = Sample._meta.get_field("updated_at").get_db_prep_save(now or timezone.now(), connection)  # type: ignore[union-attr]
    reasons = Sample._meta.get_field("dispute_reasons")
    status_sql, slots = status_assignments(connection.vendor)
    sql = (
        f'UPDATE "{Sample._meta.db_table}" SET {status_sql}, "suggested_emotion" = %s, '
        '"vote_margin" = %s, "dispute_reasons" = %s, "updated_at" = %s '
        'WHERE "id" = %s AND "status" <> %s'
    )
    params = [
        (
            *[row.status if slot == "status" else stamp for slot in slots],
            *(row.suggested_emotion, row.vote_margin),
            *(reasons.get_db_prep_save(row.dispute_reasons, connection), stamp),
            *(row.sample_id, ADJUDICATED),
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
