"""python manage.py run_pipeline --dataset NAME [--config PATH] [--stages ...] [--limit N]

Starts a pipeline run and draws a progress bar per stage until it ends. With a broker the
workers do the work and Ctrl+C leaves the run going (or cancels it, --cancel-on-interrupt);
without one the work runs in this process and Ctrl+C cancels the run. Either way, running the
same command again resumes: finished work is skipped.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.management.options import dataset_option
from annotator.models import Dataset, PipelineRun
from annotator.pipeline.config import load_pipeline_config, resolve_config_path
from annotator.pipeline.errors import PipelineConfigError
from annotator.pipeline.runs.dispatch import uses_broker
from annotator.pipeline.runs.terminal import BarWriter, render_estimate, render_spend
from annotator.pipeline.runs.units import STAGES, parse_stages
from annotator.selectors.pipeline_runs import (
    ACTIVE,
    pipeline_sample_ids,
    run_failures,
    run_progress,
    run_status,
)
from annotator.selectors.run_costs import estimate_run, run_spend
from annotator.services.pipeline_runs import (
    RunNotStarted,
    StartedRun,
    cancel_pipeline_run,
    check_run_for_stuck_units,
    launch_pipeline_run,
    refresh_run_status,
    release_running_units,
    run_pipeline_in_process,
    start_pipeline_run,
)

POLL_S = 0.5
INTERRUPTED = 130  # the shell's code for Ctrl+C


class Command(BaseCommand):
    help = (
        "Run the annotation pipeline over a dataset (docs/pipeline.md, Runs). Finished work is "
        "skipped, so running it again resumes an interrupted or cancelled run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", help="dataset name")
        parser.add_argument("--config", help="pipeline TOML (default: $EMOREVIEW_PIPELINE_CONFIG)")
        parser.add_argument(
            "--stages", help=f"comma-separated, from: {','.join(STAGES)} (default: all)"
        )
        parser.add_argument("--limit", type=int, help="only the dataset's first N samples")
        parser.add_argument(
            "--no-wait", action="store_true", help="with a broker: start the run and return"
        )
        parser.add_argument(
            "--cancel-on-interrupt",
            action="store_true",
            help="with a broker: Ctrl+C cancels the run (default: it goes on in the workers)",
        )
        parser.add_argument(
            "--estimate",
            action="store_true",
            help="print the expected model calls, tokens and cost; start nothing",
        )
        parser.add_argument(
            "--disputed-share",
            type=float,
            default=1.0,
            help="with --estimate: share (0-1) of samples expected to reach the critic "
            "(default 1: an upper bound)",
        )
        parser.add_argument("--watch", type=int, metavar="RUN", help="draw a run's progress")
        parser.add_argument("--cancel", type=int, metavar="RUN", help="cancel a run")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cancel"] is not None:
            run = _run(options["cancel"])
            cancelled = cancel_pipeline_run(run=run)
            self.stdout.write(f"Run {run.pk}: {'cancelled' if cancelled else run.status}")
            return
        if options["watch"] is not None:
            self._watch(_run(options["watch"]), options)
            return
        if options["estimate"]:
            self._estimate(options)
            return
        started = self._start(options)
        if not started.report.units:
            self.stdout.write("Nothing to do: every unit was finished by earlier runs.")
            return
        if uses_broker():
            if launch_pipeline_run(started=started) == "waiting":
                self.stderr.write(
                    f"The broker does not answer: run {started.run.pk} waits and starts as soon "
                    "as it is back (Celery beat, this command or the run's page sends it)."
                )
            if options["no_wait"]:
                self.stdout.write(f"Run {started.run.pk} dispatched to the workers.")
                return
            self._watch(started.run, options)
        else:
            self._run_here(started)

    def _estimate(self, options: dict[str, Any]) -> None:
        dataset, limit = _dataset(options)
        share = options["disputed_share"]
        if not 0 <= share <= 1:
            raise CommandError("--disputed-share must be a number from 0 to 1")
        try:
            config = load_pipeline_config(path=resolve_config_path(explicit=options["config"]))
            stages = parse_stages(options["stages"], config=config)
        except PipelineConfigError as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(f"--stages: {exc}") from exc
        estimate = estimate_run(
            dataset=dataset, config=config, stages=stages,
            sample_ids=pipeline_sample_ids(dataset=dataset, limit=limit), disputed_share=share,
        )  # fmt: skip
        for line in render_estimate(estimate, dataset=dataset.name):
            self.stdout.write(line)

    def _start(self, options: dict[str, Any]) -> StartedRun:
        dataset, limit = _dataset(options)
        try:
            path = resolve_config_path(explicit=options["config"])
            config = load_pipeline_config(path=path)
            started = start_pipeline_run(
                dataset=dataset, config=config, config_path=str(path),
                stages=options["stages"], limit=limit,
            )  # fmt: skip
        except (PipelineConfigError, RunNotStarted) as exc:
            raise CommandError(str(exc)) from exc
        report = started.report
        self.stdout.write(
            f"Run {started.run.pk} on {dataset.name}: {report.samples} samples, "
            f"{report.units} units to do ({report.finished_samples} samples finished earlier); "
            f"stages {', '.join(started.run.stages)}"
        )
        return started

    def _run_here(self, started: StartedRun) -> None:
        bars = BarWriter(self.stdout)
        run = started.run
        self.stdout.write("No broker (CELERY_BROKER_URL unset): running in this process.")
        try:
            run = run_pipeline_in_process(started=started, on_progress=lambda: _draw(bars, run))
        except KeyboardInterrupt:
            cancel_pipeline_run(run=run)
            release_running_units(run=run)
            _draw(bars, run)
            raise CommandError(
                f"Interrupted: run {run.pk} cancelled. Run the same command again to resume.",
                returncode=INTERRUPTED,
            ) from None
        self._summary(run)

    def _watch(self, run: PipelineRun, options: dict[str, Any]) -> None:
        bars = BarWriter(self.stdout)
        try:
            while True:
                check_run_for_stuck_units(run=run)  # what a dead worker or no broker left
                run = refresh_run_status(run=run)
                _draw(bars, run)
                if run.status not in ACTIVE:
                    break
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            if options.get("cancel_on_interrupt"):
                cancel_pipeline_run(run=run)
                raise CommandError(
                    f"Interrupted: run {run.pk} cancelled (units already running finish).",
                    returncode=INTERRUPTED,
                ) from None
            self.stdout.write(
                f"\nDetached: run {run.pk} goes on in the workers. Watch it with "
                f"run_pipeline --watch {run.pk}; cancel it with run_pipeline --cancel {run.pk} "
                "or on the Runs page."
            )
            return
        self._summary(run)

    def _summary(self, run: PipelineRun) -> None:
        elapsed = ""
        if run.started_at and run.finished_at:
            elapsed = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
        failures = run_failures(run=run, limit=10)
        total = sum(p.failed for p in run_progress(run_id=run.pk))
        # "finished with 1 failure", never "done", when units failed.
        self.stdout.write(f"Run {run.pk} {run_status(run=run, failed=total).text}{elapsed}.")
        if run.error:
            self.stderr.write(run.error)
        if failures:
            self.stderr.write(f"{total} units failed (the run went on); the latest:")
            for f in failures:
                where = f"{f.external_id} {f.stage} {f.model_name}".strip()
                self.stderr.write(f"  {where} (round {f.round}): {f.error}")


def _dataset(options: dict[str, Any]) -> tuple[Dataset, int | None]:
    if not options["dataset"]:
        raise CommandError("--dataset is required (or --watch RUN / --cancel RUN)")
    limit = options["limit"]
    if limit is not None and limit < 1:
        raise CommandError("--limit must be a positive number")
    return dataset_option(options["dataset"]), limit


def _draw(bars: BarWriter, run: PipelineRun) -> None:
    bars.draw(run_progress(run_id=run.pk), render_spend(run_spend(run=run)))


def _run(pk: int) -> PipelineRun:
    run = PipelineRun.objects.select_related("dataset").filter(pk=pk).first()
    if run is None:
        raise CommandError(f"no pipeline run {pk}")
    return run
