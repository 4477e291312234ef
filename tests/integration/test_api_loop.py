"""docs/api_loop.py, run as a researcher would (its own process, plain HTTP) against a live
server holding the demo: token, datasets, a lease, the sample's image and regions, an answer,
an export job polled to the end, the CSV in pandas. Keeps docs/api.md's loop true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.models import Sample
from review.models import Annotation, ExportJob
from tests.browser.demo_site import demo_site  # noqa: F401  (the fixture)

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "api_loop.py"

pytestmark = pytest.mark.slow


@pytest.fixture
def export_root(tmp_path, settings, monkeypatch):
    """One EXPORT_ROOT for the web process and, on the Redis leg, the worker (started by
    demo_site from this environment): the web serves the files the worker writes."""
    root = tmp_path / "exports"
    settings.EXPORT_ROOT = root
    monkeypatch.setenv("EXPORT_ROOT", str(root))
    return root


# export_root first: the worker demo_site starts must see its variable.
def test_the_documented_loop_runs_against_a_live_server(export_root, demo_site):  # noqa: F811
    env = {
        **os.environ,
        "EMOREVIEW_PASSWORD": demo_site.passwords["annotator"],
        "EMOREVIEW_ADMIN_PASSWORD": demo_site.passwords["admin"],
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", demo_site.url, "--dataset", "demo", "--wait", "60"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    print(done.stdout)  # what docs/api.md shows (pytest -s)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = Annotation.objects.get(notes="answered by docs/api_loop.py")
    sample = Sample.objects.get(pk=answer.sample_id)
    assert sample.status == Sample.Status.ADJUDICATED  # k = 1: the answer is the label
    assert f"sample {sample.external_id}: {sample.width}x{sample.height} px" in done.stdout
    job = ExportJob.objects.get()
    assert (job.status, job.fmt, job.rows_done) == ("done", "csv", job.rows_total)
    assert f"pandas: {job.rows_done} rows" in done.stdout
    assert (export_root / str(job.pk) / job.file_name).is_file()
