"""An admin starts an export on the Export page and watches it: the job's progress bar runs to
"done" (htmx polls), and its download link gives a file the outside tool reads."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from annotator.models import Sample
from review.models import ExportJob
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]


@pytest.fixture
def export_root(tmp_path, settings, monkeypatch):
    """Before demo_site: the worker it starts on the PostgreSQL + Redis leg writes here too."""
    root = tmp_path / "exports"
    monkeypatch.setenv("EXPORT_ROOT", str(root))
    settings.EXPORT_ROOT = root
    return root


def test_an_export_job_runs_to_done_and_its_file_downloads(
    export_root, demo_site, chromium_browser, tmp_path
):
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/export/")
    form = page.locator("#export-start")
    form.locator("select[name=dataset]").select_option(demo_site.dataset.name)
    form.locator("input[name=kind][value=labels]").check()
    form.locator("input[name=format][value=parquet]").check()
    form.locator("input[name=scope][value=all]").check()
    form.locator("button[type=submit]").click()

    job = ExportJob.objects.get()
    card = page.locator(f"#export-job-{job.pk}")
    card.wait_for(timeout=10_000)
    assert card.locator("progress").count() == 1  # the bar is there from the first render
    page.locator(f"#export-job-{job.pk}[data-status=done]").wait_for(timeout=20_000)
    total = Sample.objects.filter(dataset=demo_site.dataset).count()
    figures = card.locator("[data-rows-done]")
    assert figures.get_attribute("data-rows-done") == str(total)
    assert card.locator("[data-cancel-job]").count() == 0

    with page.expect_download() as download_info:
        card.locator("a[data-part=data]").click()
    download = download_info.value
    assert download.suggested_filename == f"{demo_site.dataset.name}-all.parquet"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    table = pq.read_table(path)
    assert table.num_rows == total
    samples = Sample.objects.filter(dataset=demo_site.dataset)
    ids = set(samples.values_list("external_id", flat=True))
    assert set(table.column("external_id").to_pylist()) == ids
    page.screenshot(path="/tmp/export_job.png", full_page=True)
