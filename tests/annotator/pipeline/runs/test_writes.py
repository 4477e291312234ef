"""The rows a recording transaction gathers (runs/writes.py): written as the ORM would have.

Run on SQLite by default and on PostgreSQL with DATABASE_URL (executemany, JSON adaptation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from annotator.models import CriticVerdict, Proposal, Sample, StageResult
from annotator.pipeline.runs import writes as runs_writes
from annotator.pipeline.runs.writes import (
    RowWrites,
    SampleVerification,
    update_samples,
    upsert_proposals,
)
from annotator.services.sample_status import status_fields
from tests.factories import PipelineRunFactory, ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db
LONG_AGO = timezone.now() - timedelta(days=30)


def verification(sample: Sample, status: str, margin: float | None = 0.5) -> SampleVerification:
    reasons: list[dict[str, object]] = [{"kind": "split", "models": ["a", "b"]}]
    return SampleVerification(sample.pk, status, "awe", margin, reasons)


def test_samples_get_status_vote_and_reasons_and_the_stamp_moves_only_on_a_change():
    moved = SampleFactory.create(status="pending", status_changed_at=LONG_AGO)
    kept = SampleFactory.create(status="disputed", status_changed_at=LONG_AGO)
    people = SampleFactory.create(
        status="adjudicated", status_changed_at=LONG_AGO, suggested_emotion="fear"
    )

    update_samples([verification(moved, "disputed"), verification(kept, "disputed", None)])
    update_samples([verification(people, "agreed")])

    moved.refresh_from_db()
    assert (moved.status, moved.suggested_emotion, moved.vote_margin) == ("disputed", "awe", 0.5)
    assert moved.dispute_reasons == [{"kind": "split", "models": ["a", "b"]}]
    assert moved.status_changed_at is not None and moved.status_changed_at > LONG_AGO
    kept.refresh_from_db()
    assert kept.status_changed_at == LONG_AGO and kept.vote_margin is None
    people.refresh_from_db()
    assert (people.status, people.suggested_emotion) == ("adjudicated", "fear")  # as decided
    assert people.status_changed_at == LONG_AGO


@pytest.mark.parametrize(
    ("before", "stamped", "after"),
    [
        ("pending", True, "disputed"),
        ("disputed", True, "disputed"),
        ("disputed", False, "disputed"),
        ("pending", False, "agreed"),
        ("agreed", True, "pending"),
    ],
)
def test_samples_get_the_status_and_stamp_that_status_fields_gives(before, stamped, after):
    """The same rule both ways: status_fields through the ORM on one sample, update_samples on
    its twin; a change to the rule that update_samples missed would set them apart."""
    changed_at = LONG_AGO if stamped else None
    orm, ours = SampleFactory.create_batch(2, status=before, status_changed_at=changed_at)
    now = timezone.now()

    Sample.objects.filter(pk=orm.pk).update(**status_fields(after, now=now))
    update_samples([verification(ours, after)], now=now)

    rows = Sample.objects.filter(pk__in=[orm.pk, ours.pk]).values_list(
        "status", "status_changed_at"
    )
    assert rows[0] == rows[1]
    assert rows[0] == (after, LONG_AGO if stamped and before == after else now)


def test_a_rule_with_a_value_update_samples_cannot_place_is_refused(monkeypatch):
    def wider_rule(status: str, *, now: datetime | None = None) -> dict[str, Any]:
        return {**status_fields(status, now=now), "suggested_emotion": "awe"}

    monkeypatch.setattr(runs_writes, "status_fields", wider_rule)
    runs_writes.status_assignments.cache_clear()
    try:
        with pytest.raises(ValueError, match="suggested_emotion takes values"):
            runs_writes.status_assignments(connection.vendor)
    finally:
        runs_writes.status_assignments.cache_clear()


def test_unit_rows_with_different_fields_are_each_written_and_verify_counts_an_attempt():
    run = PipelineRunFactory.create()
    sample = SampleFactory.create(dataset=run.dataset)
    units = [
        StageResult.objects.create(run=run, sample=sample, stage=stage, model_name=stage)
        for stage in ("annotate", "critic", "verify")
    ]
    now = timezone.now()
    writes = RowWrites()
    writes.units.append((units[0].pk, {"status": "done", "output": {"emotion": "awe"}}))
    failed = {"status": "failed", "error": "HTTP 400", "finished_at": now}
    writes.units.append((units[1].pk, failed))
    writes.verified.append((units[2].pk, {"status": "done", "claimed_at": now}))
    writes.verdicts.append(
        CriticVerdict(sample=sample, verdict="drop", emotion="", reasoning="r", round=0)
    )

    writes.flush()

    rows = {u.stage: u for u in StageResult.objects.filter(run=run)}
    assert (rows["annotate"].status, rows["annotate"].output) == ("done", {"emotion": "awe"})
    assert (rows["critic"].status, rows["critic"].error) == ("failed", "HTTP 400")
    assert rows["critic"].finished_at == now and rows["annotate"].finished_at is None
    assert (rows["verify"].status, rows["verify"].attempts) == ("done", units[2].attempts + 1)
    assert CriticVerdict.objects.get(sample=sample).verdict == "drop"
    assert (writes.units, writes.verified, writes.verdicts) == ([], [], [])  # written once


def test_proposals_are_inserted_or_replaced_and_the_last_of_one_model_wins():
    sample = SampleFactory.create()
    ProposalFactory.create(sample=sample, model_name="gpt4o", emotion="fear")

    upsert_proposals(
        [
            Proposal(sample=sample, model_name="gpt4o", emotion="awe", confidence=7.0),
            Proposal(sample=sample, model_name="gemini", emotion="sadness", confidence=6.0),
            Proposal(sample=sample, model_name="gemini", emotion="anger", confidence=5.0),
        ]
    )

    rows = dict(Proposal.objects.filter(sample=sample).values_list("model_name", "emotion"))
    assert rows == {"gpt4o": "awe", "gemini": "anger"}
