"""The in-process runner's own failure record (issue 15: it lives in the run's layer)."""

from __future__ import annotations

import pytest

from annotator.models import PipelineRun
from annotator.pipeline.runs.execution import fail_run
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


def test_a_stopped_runner_fails_its_active_run_and_leaves_a_finished_one_alone():
    dataset = DatasetFactory.create()
    running = PipelineRun.objects.create(dataset=dataset, status=PipelineRun.Status.RUNNING)
    finished = PipelineRun.objects.create(dataset=dataset, status=PipelineRun.Status.DONE)

    fail_run(run_id=running.pk, error="the in-process runner stopped; see the log")
    fail_run(run_id=finished.pk, error="too late")

    running.refresh_from_db()
    finished.refresh_from_db()
    assert running.status == PipelineRun.Status.FAILED
    assert running.error == "the in-process runner stopped; see the log"
    assert running.finished_at is not None
    assert (finished.status, finished.error) == (PipelineRun.Status.DONE, "")


def test_the_runner_module_does_not_reach_up_into_the_services():
    from pathlib import Path

    import annotator.pipeline.runs.local as local

    source = Path(local.__file__).read_text(encoding="utf-8")
    assert "annotator.services" not in source
