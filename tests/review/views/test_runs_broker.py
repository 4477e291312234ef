"""The Runs pages with the broker away: starting a run answers (no 500), the run waits and
starts when the broker is back; every page renders meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotator.models import PipelineRun, StageResult
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.pipeline_runs import make_pipeline_dataset, write_config

RUNS = reverse("review:runs")
pytestmark = [pytest.mark.ml, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dataset(tmp_path, settings):
    settings.PIPELINE_CONFIG_DIRS = [tmp_path.resolve()]
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker is configured...
    write_config(tmp_path / "pipeline.toml", base_url="http://127.0.0.1:9/v1")
    return make_pipeline_dataset(tmp_path / "images", count=2)


def start(client, dataset, tmp_path):
    config = str((tmp_path / "pipeline.toml").resolve())
    data = {"dataset": dataset.name, "config": config, "stages": ["annotate"]}
    return client.post(RUNS, data, follow=True)


def test_a_run_started_with_the_broker_away_waits_and_starts_when_it_returns(
    client, admin_user, dataset, tmp_path, settings
):
    client.force_login(admin_user)
    with broker_at(UNREACHABLE_BROKER, settings):  # ... and does not answer
        response = start(client, dataset, tmp_path)
        run = PipelineRun.objects.get()
        assert response.status_code == 200  # was a 500
        assert "the workers are unreachable" in response.text
        assert run.status == "pending" and 'id="run-waiting"' in response.text
        assert client.get(RUNS).status_code == 200
        progress = client.get(reverse("review:run_progress", args=[run.pk]))
        assert progress.status_code == 200 and "Waiting for the workers" in progress.text
        assert f"run {run.pk} is still pending" in start(client, dataset, tmp_path).text

    # The broker is back: the next poll of the progress page sends the units; the run runs.
    a_moment_ago = timezone.now() - timedelta(seconds=10)
    StageResult.objects.filter(run=run).update(send_due=a_moment_ago)
    PipelineRun.objects.filter(pk=run.pk).update(checked_at=None)
    with broker_at("memory://", settings):
        progress = client.get(reverse("review:run_progress", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "running" and "Waiting for the workers" not in progress.text
    assert not StageResult.objects.filter(run=run, send_due__isnull=False).exists()


def test_a_waiting_run_can_be_cancelled_and_another_started(
    client, admin_user, dataset, tmp_path, settings
):
    client.force_login(admin_user)
    with broker_at(UNREACHABLE_BROKER, settings):
        start(client, dataset, tmp_path)
        first = PipelineRun.objects.get()
        client.post(reverse("review:run_cancel", args=[first.pk]))
        first.refresh_from_db()
        assert first.status == "cancelled"
        assert not StageResult.objects.filter(send_due__isnull=False).exists()
    with broker_at("memory://", settings):
        start(client, dataset, tmp_path)
    second = PipelineRun.objects.exclude(pk=first.pk).get()
    assert second.status == "running"
