"""End to end: run_pipeline dispatches 20 samples to a real Celery worker over Redis.

The command runs as a process of its own and is interrupted (SIGINT, as Ctrl+C) once it draws
its bars: with a broker that detaches, and the run goes on in the worker.

The worker (another process) reaches the loopback OpenAI-compatible server this test runs,
reads the images from disk, masks the imported boxes with GrabCut, and chains every stage; one
429 with Retry-After goes through Celery's retry. Afterwards export_labels --scope all shows each
sample's status and the critic's verdict.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db.models import Count

pytest.importorskip("openai")

from annotator.models import CriticVerdict, PipelineRun, Region, Sample, StageResult
from tests.support.celery_worker import (
    REPO_ROOT,
    database_url_for_worker,
    running_worker,
    wait_until,
)
from tests.support.openai_server import OpenAIServer, rate_limited
from tests.support.pipeline_runs import (
    ScriptedModels,
    expected_outcome,
    make_pipeline_dataset,
    write_config,
)
from tests.support.unit_faults import run_with_kills

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.ml,
    pytest.mark.django_db(transaction=True),
]
COUNT = 20


def test_a_run_through_a_real_worker(tmp_path):
    dataset = make_pipeline_dataset(tmp_path / "images", count=COUNT)
    with OpenAIServer(default=ScriptedModels()) as server:
        config = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
        server.enqueue(rate_limited(retry_after="1"))
        with running_worker(queues=("default", "gpu", "llm")) as worker:
            # The command watches the run; Ctrl+C (SIGINT) detaches and the workers go on.
            command = [
                sys.executable, "manage.py", "run_pipeline", "--dataset", dataset.name,
                "--config", str(config),
            ]  # fmt: skip
            env = {**os.environ, "DATABASE_URL": database_url_for_worker(), "LOG_LEVEL": "WARNING"}
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("annotate  ["):
                    break
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            assert "Detached: run" in out and "goes on in the workers" in out
            run = PipelineRun.objects.get()
            wait_until(
                lambda: PipelineRun.objects.get(pk=run.pk).status != "running",
                worker=worker,
                timeout=180,
            )
            log = worker.log(tail=200_000)

    run.refresh_from_db()
    assert run.status == "done", log[-4000:]
    assert not StageResult.objects.exclude(status__in=["done", "skipped"]).exists()
    retried = StageResult.objects.filter(attempts=2)
    assert retried.count() == 1 and retried.get().stage == "annotate"
    # A chunk's unit (runs/chunk.py) goes back alone, as its own task, after Retry-After.
    retries = [line for line in log.splitlines() if "sent again in" in line]
    assert len(retries) == 1 and "(annotate): sent again in 1.0 s" in retries[0], log[-4000:]
    assert Region.objects.filter(mask__isnull=False).count() == COUNT

    target = tmp_path / "labels.csv"
    call_command(
        "export_labels", "--dataset", dataset.name, "--format", "csv", "--scope", "all",
        "--out", str(target), stdout=io.StringIO(),
    )  # fmt: skip
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == COUNT
    for row in rows:
        index = int(row["external_id"].removeprefix("img-"))
        assert (row["status"], row["critic_verdict"]) == expected_outcome(index), row["external_id"]


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_units_survive_workers_killed_mid_unit(tmp_path, pool):
    """SIGKILL a worker (solo) or the child running a unit (prefork) three times in the middle
    of model calls: every unit still completes exactly once and the run finishes. Before, a
    solo worker's unit stayed "running" (the message waited an hour in Redis' unacked set)."""
    report = run_with_kills(root=tmp_path, pool=pool, kills=3, samples=4)
    assert report.run_status == "done", report
    assert report.kills == 3 and report.killed_mid_unit >= 1, report
    assert (report.lost, report.failed, report.completed) == (0, 0, report.units), report
    # Exactly once: one verdict per judged sample and round, one proposal per annotator, every
    # sample decided. (Which status depends on the kills: the scripted critic counts its calls.)
    verdicts = CriticVerdict.objects.values("sample_id", "round").annotate(n=Count("id"))
    assert verdicts and all(row["n"] == 1 for row in verdicts), list(verdicts)
    for sample in Sample.objects.all():
        assert sample.status in ("agreed", "disputed", "dropped"), sample.external_id
        assert sample.proposals.count() == 2
