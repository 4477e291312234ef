"""An admin watching a run's page while it ends: the poll brings the outcome, not only counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.models import PipelineRun, Sample
from annotator.models import StageResult as Unit
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]


def test_a_run_that_ends_while_watched_shows_its_failures_and_no_cancel(
    demo_site, chromium_browser
):
    now = timezone.now()
    run = PipelineRun.objects.create(
        dataset=demo_site.dataset, stages=["annotate"], limit=1,
        status=PipelineRun.Status.RUNNING, started_at=now,
    )  # fmt: skip
    sample = Sample.objects.filter(dataset=demo_site.dataset).earliest("pk")
    unit = Unit.objects.create(  # held by a live worker elsewhere: nothing re-sends it
        run=run, sample=sample, stage=Unit.Stage.ANNOTATE, model_name="gpt4o",
        status=Unit.Status.RUNNING, attempts=1, claimed_at=now,
        claimed_by="elsewhere:1:1", lease_until=now + timedelta(hours=1),
    )  # fmt: skip
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/runs/{run.pk}/")
    assert page.locator("#cancel-run").is_visible()
    assert page.locator("#run-failures").count() == 0

    finished = timezone.now()
    Unit.objects.filter(pk=unit.pk).update(
        status=Unit.Status.FAILED, finished_at=finished, error="gave up after 2 attempts: 503"
    )
    PipelineRun.objects.filter(pk=run.pk).update(
        status=PipelineRun.Status.DONE, finished_at=finished
    )
    page.locator("#run-failures").wait_for(timeout=10_000)  # the next poll (every 2 s)
    assert "gave up after 2 attempts: 503" in page.locator("#run-failures").inner_text()
    assert page.locator("#cancel-run").count() == 0
    status = page.locator("#run-progress [data-run-status]").inner_text().lower()
    assert status == "finished with 1 failure"
    page.screenshot(path="/tmp/run_watch.png", full_page=True)
