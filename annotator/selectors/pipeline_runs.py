"""Reads for pipeline runs: progress per stage, the run list, failures, a stage's inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from annotator.models import CriticVerdict, Dataset, PipelineRun, Proposal, Region, Sample
from annotator.models import StageResult as Unit
from annotator.pipeline.runs.units import STAGES

ACTIVE = (PipelineRun.Status.PENDING, PipelineRun.Status.RUNNING)


@dataclass(frozen=True)
class StageProgress:
    stage: str
    pending: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.running + self.done + self.failed + self.skipped

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


def run_progress(*, run_id: int) -> list[StageProgress]:
    """Units per stage and status of this run (one query over the stageresult_progress index);
    stages without units are left out."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        Unit.objects.filter(run_id=run_id)
        .values_list("stage", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for stage, status, n in rows:
        counts.setdefault(stage, {})[status] = n
    return [StageProgress(stage, **counts[stage]) for stage in STAGES if stage in counts]


def run_is_unfinished(*, run_id: int) -> bool:
    """Whether any unit of the run is pending or running (index seeks per stage and status)."""
    # Plain SQL: checked whenever a sample's round ends; one index range per stage and status.
    stages = ", ".join(["%s"] * len(STAGES))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT 1 FROM "{Unit._meta.db_table}" WHERE run_id = %s '
            f"AND stage IN ({stages}) AND status IN (%s, %s) LIMIT 1",
            [run_id, *STAGES, Unit.Status.PENDING, Unit.Status.RUNNING],
        )
        return cursor.fetchone() is not None


def pipeline_sample_ids(*, dataset: Dataset, limit: int | None = None) -> list[int]:
    """The samples a run covers: the dataset's first `limit` by id (all without a limit), so
    running again with the same limit covers the same samples."""
    ids = Sample.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True)
    return list(ids[:limit] if limit is not None else ids)


def active_run(*, dataset: Dataset) -> PipelineRun | None:
    return PipelineRun.objects.filter(dataset=dataset, status__in=ACTIVE).order_by("-id").first()


@dataclass(frozen=True)
class RunStatus:
    """A run's status as a person reads it: an ended run says how many of its units failed."""

    code: str  # PipelineRun.Status
    failed: int  # units that failed
    text: str  # "done", "finished with 3 failures", "running", "cancelled (1 failure)"…


def run_status(*, run: PipelineRun, failed: int) -> RunStatus:
    """The status in words: "done" only when nothing failed; a run whose only unit failed
    "finished with 1 failure"."""
    status = str(run.status)
    failures = f"{failed} failure{'' if failed == 1 else 's'}"
    if not failed or status == PipelineRun.Status.FAILED:
        text = status  # a failed run shows its error next to the status
    elif status == PipelineRun.Status.DONE:
        text = f"finished with {failures}"
    elif status in ACTIVE:
        text = f"{status} ({failures} so far)"
    else:
        text = f"{status} ({failures})"
    return RunStatus(code=status, failed=failed, text=text)


def failed_unit_counts(*, run_ids: list[int]) -> dict[int, int]:
    """Failed units per run (index seeks per stage over stageresult_progress)."""
    rows = (
        Unit.objects.filter(run_id__in=run_ids, stage__in=STAGES, status=Unit.Status.FAILED)
        .values_list("run_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {run_id: n for run_id, n in rows}


@dataclass(frozen=True)
class RunListRow:
    run: PipelineRun
    status: RunStatus


def recent_runs(*, limit: int = 50) -> list[RunListRow]:
    """The latest runs, newest first, each with its status as a person reads it."""
    runs = list(PipelineRun.objects.select_related("dataset", "created_by").order_by("-id")[:limit])
    failed = failed_unit_counts(run_ids=[run.pk for run in runs])
    return [RunListRow(run, run_status(run=run, failed=failed.get(run.pk, 0))) for run in runs]


def run_for_page(*, pk: int) -> PipelineRun:
    return get_object_or_404(PipelineRun.objects.select_related("dataset", "created_by"), pk=pk)


@dataclass(frozen=True)
class FailedUnit:
    sample_id: int
    external_id: str
    stage: str
    model_name: str
    round: int
    attempts: int
    error: str


def run_failures(*, run: PipelineRun, limit: int = 50) -> list[FailedUnit]:
    """Units that failed, newest first (a skip caused by an earlier failure is not listed)."""
    rows = (
        Unit.objects.filter(run=run, status=Unit.Status.FAILED)
        .order_by("-finished_at", "-id")
        .values_list(
            "sample_id", "sample__external_id", "stage", "model_name", "round", "attempts", "error"
        )[:limit]
    )
    return [FailedUnit(*row) for row in rows]


def run_dropped_samples(*, run: PipelineRun, limit: int = 50) -> QuerySet[Sample]:
    """Samples of this run that are dropped now (a person may restore them)."""
    ids = Unit.objects.filter(run=run).values("sample_id")
    return (
        Sample.objects.filter(pk__in=ids, status=Sample.Status.DROPPED)
        .defer("des")
        .order_by("id")[:limit]
    )


def revise_instructions(*, sample_id: int, round_: int) -> str:
    """The instructions of the critic's revise verdict in `round_` ("" when there is none)."""
    instructions = (
        CriticVerdict.objects.filter(
            sample_id=sample_id, round=round_, verdict=CriticVerdict.Verdict.REVISE
        )
        .order_by("-created_at", "-id")
        .values_list("instructions", flat=True)
        .first()
    )
    return instructions or ""


_PROPOSAL_COLUMNS = (
    "model_name", "emotion", "confidence", "description", "background", "attribute", "subject",
    "distribution",
)  # fmt: skip


def critic_inputs(*, sample_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(proposals, grounding) as the critic sees them: every model's proposal, every box.
    Plain SQL: it runs for every judged sample and is cheaper than building the ORM queries."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {", ".join(_PROPOSAL_COLUMNS)} FROM "{Proposal._meta.db_table}" '
            "WHERE sample_id = %s ORDER BY model_name",
            [sample_id],
        )
        proposal_rows = cursor.fetchall()
        cursor.execute(
            f'SELECT role, phrase, x1, y1, x2, y2, score FROM "{Region._meta.db_table}" '
            "WHERE sample_id = %s AND x1 IS NOT NULL ORDER BY role, id",
            [sample_id],
        )
        region_rows = cursor.fetchall()
    proposals = []
    for row in proposal_rows:
        proposal = dict(zip(_PROPOSAL_COLUMNS, row, strict=True))
        proposal["model"] = proposal.pop("model_name")
        value = proposal.pop("distribution")
        value = json.loads(value) if isinstance(value, str) else value  # JSON text (PostgreSQL)
        if value:
            proposal["distribution"] = value
        proposals.append(proposal)
    grounding = [
        {"role": role, "phrase": phrase, "box": [x1, y1, x2, y2], "score": score}
        for role, phrase, x1, y1, x2, y2, score in region_rows
    ]
    return proposals, grounding
