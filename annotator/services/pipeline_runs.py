"""Start, run, watch, cancel pipeline runs.

    started = start_pipeline_run(dataset=ds, config=config, stages=["annotate", "verify"])
    launch_pipeline_run(started=started)      # workers (broker) or a background thread
    resend_stuck_units()                      # beat: what dead workers or no broker left
    # or, in a terminal without a broker:
    run_pipeline_in_process(started=started, on_progress=draw)

A run covers the dataset's first `limit` samples (all without one). Work finished by earlier
runs is skipped; failed and cancelled work is done again. One run per dataset at a time.
With the broker away a started run waits (pending) and starts when the re-send check can send
its units (beat, or its progress page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset, PipelineRun, StageResult
from annotator.pipeline.config import PipelineConfig
from annotator.pipeline.runs.config_store import config_to_json
from annotator.pipeline.runs.dispatch import publish_units, send_units, uses_broker
from annotator.pipeline.runs.execution import finish_run_if_complete, mark_due
from annotator.pipeline.runs.recovery import Resent
from annotator.pipeline.runs.recovery import resend_stuck_units as resend
from annotator.pipeline.runs.seeding import SeedReport, seed_run
from annotator.pipeline.runs.units import parse_stages, run_spec
from annotator.selectors.pipeline_runs import ACTIVE, active_run, pipeline_sample_ids

WAITING_CHECK_SECONDS = 5  # a run waiting for the broker starts this soon after it returns


class RunNotStarted(ValueError):
    """The run cannot start: a bad --stages value, or another run is active on the dataset."""


@dataclass(frozen=True)
class StartedRun:
    run: PipelineRun
    report: SeedReport


def start_pipeline_run(
    *,
    dataset: Dataset,
    config: PipelineConfig,
    config_path: str = "",
    stages: str | Sequence[str] | None = None,
    limit: int | None = None,
    user: Any = None,
) -> StartedRun:
    """Create the run and its units (nothing is dispatched yet: see launch_pipeline_run)."""
    try:
        chosen = parse_stages(stages, config=config)
    except ValueError as exc:
        raise RunNotStarted(f"--stages: {exc}") from exc
    spec = run_spec(
        config=config, stages=chosen, prompt_versions=_latest_prompts(), segmenter=_segmenter()
    )
    with transaction.atomic():
        # The dataset row's lock makes two starts on one dataset take turns.
        Dataset.objects.select_for_update().filter(pk=dataset.pk).values_list("pk").first()
        _refuse_concurrent_run(dataset)
        # Votes count with the config's annotator weights; the sample page shows the same.
        dataset.model_weights = {**(dataset.model_weights or {}), **config.weights}
        Dataset.objects.filter(pk=dataset.pk).update(model_weights=dataset.model_weights)
        now = timezone.now()
        run = PipelineRun.objects.create(
            dataset=dataset, config=config_to_json(config), config_path=str(config_path),
            stages=chosen, limit=limit, status=PipelineRun.Status.RUNNING,
            created_by=user if user is not None and user.is_authenticated else None,
            started_at=now,
        )  # fmt: skip
        ids = pipeline_sample_ids(dataset=dataset, limit=limit)
        report = seed_run(run=run, spec=spec, sample_ids=ids)
        mark_due([ref.id for ref in report.start])  # the outbox: cleared once sent
        if not report.units:
            run.status, run.finished_at = PipelineRun.Status.DONE, now
            run.save(update_fields=["status", "finished_at"])
    return StartedRun(run=run, report=report)


def _refuse_concurrent_run(dataset: Dataset) -> None:
    other = active_run(dataset=dataset)
    if other is not None:
        finish_run_if_complete(run_id=other.pk)
        other = active_run(dataset=dataset)
    if other is not None:
        raise RunNotStarted(
            f"run {other.pk} is still {other.status} on dataset {dataset.name}: "
            "wait for it to finish or cancel it"
        )


def _latest_prompts() -> dict[str, str]:
    from annotator.pipeline.prompts import load_prompt

    return {name: load_prompt(name=name).version for name in ("annotate", "critic")}


def _segmenter() -> str:
    from annotator.adapters.segmenters import resolve_segmenter_name

    return resolve_segmenter_name()


def launch_pipeline_run(*, started: StartedRun) -> str:
    """Dispatch the first units after commit: to the workers ("broker"), or without a broker to
    a background thread of this process ("thread"). Returns which; "waiting" when the broker
    could not be reached: the run is then pending, and starts when its units can be sent."""
    if uses_broker():
        if transaction.get_connection().in_atomic_block:
            send_units(started.report.start)
            return "broker"
        if publish_units(list(started.report.start)):
            return "broker"
        PipelineRun.objects.filter(pk=started.run.pk, status=PipelineRun.Status.RUNNING).update(
            status=PipelineRun.Status.PENDING
        )
        started.run.refresh_from_db()
        return "waiting"
    from annotator.pipeline.runs.local import run_in_background

    run_id, start = started.run.pk, list(started.report.start)
    transaction.on_commit(lambda: run_in_background(run_id=run_id, start=start))
    return "thread"


def run_pipeline_in_process(
    *, started: StartedRun, on_progress: Callable[[], None] | None = None
) -> PipelineRun:
    """Run every unit here and now (no broker); returns the run as it ended."""
    from annotator.pipeline.runs.local import LocalRunner

    LocalRunner(run_id=started.run.pk, on_progress=on_progress).run(started.report.start)
    return PipelineRun.objects.get(pk=started.run.pk)


def cancel_pipeline_run(*, run: PipelineRun) -> bool:
    """Stop scheduling: no unit of the run is claimed any more (running ones finish). False when
    the run had ended already. Running the pipeline again resumes what is left."""
    cancelled = PipelineRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        cancel_requested=True, status=PipelineRun.Status.CANCELLED, finished_at=timezone.now()
    )
    # Nothing of a cancelled run is to be sent again (a new run marks what it starts).
    StageResult.objects.filter(run=run, send_due__isnull=False).update(send_due=None)
    run.refresh_from_db()
    return bool(cancelled)


def release_running_units(*, run: PipelineRun) -> int:
    """Units this process was running when it was interrupted go back to pending."""
    return StageResult.objects.filter(run=run, status=StageResult.Status.RUNNING).update(
        status=StageResult.Status.PENDING, claimed_at=None, claimed_by="", lease_until=None
    )


def resend_stuck_units() -> Resent:
    """Beat's check over every active run: units whose worker died (lease lapsed), units the
    broker never took, pending units whose message was lost. Nothing without a broker."""
    if not uses_broker():
        return Resent()
    return resend(lost_messages=True)


def check_run_for_stuck_units(*, run: PipelineRun) -> Resent:
    """The same check for one run, as its progress page polls: at most once per
    PIPELINE_RESEND_SECONDS (a waiting run: every few seconds) whoever polls."""
    if not uses_broker() or run.status not in ACTIVE:
        return Resent()
    now = timezone.now()
    every = settings.PIPELINE_RESEND_SECONDS
    if run.status == PipelineRun.Status.PENDING:
        every = min(every, WAITING_CHECK_SECONDS)
    due = Q(checked_at__isnull=True) | Q(checked_at__lte=now - timedelta(seconds=every))
    if not PipelineRun.objects.filter(due, pk=run.pk).update(checked_at=now):
        return Resent()  # checked lately, by this page or another
    report = resend(run_ids=[run.pk], now=now)
    if report.started:
        run.refresh_from_db()  # it waited for the broker and runs now
    return report


def refresh_run_status(*, run: PipelineRun) -> PipelineRun:
    """Mark the run done when nothing is pending or running (a safety net for the last unit's
    own check); returns the run as stored."""
    if run.status == PipelineRun.Status.RUNNING:
        finish_run_if_complete(run_id=run.pk)
        run.refresh_from_db()
    return run
