"""The export job tasks: registered under their names, on beat's schedule, and the task body
runs the job (eagerly here: the real worker runs in tests/integration/test_export_faults.py)."""

from __future__ import annotations

import pytest

from annotator.celery import app
from review import tasks
from review.models import ExportJob
from tests.factories import DatasetFactory, SampleFactory


def test_the_tasks_are_registered_and_beat_resends_stuck_jobs():
    app.loader.import_default_modules()
    names = {"review.run_export_job", "review.resend_stuck_export_jobs"}
    assert names <= set(app.tasks)
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "review.resend_stuck_export_jobs" in schedule


@pytest.mark.django_db
def test_the_task_runs_the_job_once_and_a_second_delivery_is_a_no_op(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path
    dataset = DatasetFactory.create(name="tasks")
    SampleFactory.create_batch(3, dataset=dataset)
    job = ExportJob.objects.create(dataset=dataset, fmt="jsonl", scope="all")
    assert tasks.run_export_job.apply(args=(job.pk,)).get() == "done"
    assert tasks.run_export_job.apply(args=(job.pk,)).get() == "skipped"
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.attempts) == ("done", 3, 1)
    assert (tmp_path / str(job.pk) / "tasks-all.jsonl").read_text().count("\n") == 3
