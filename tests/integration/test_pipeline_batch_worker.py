"""End to end in batch mode: annotate -> verify -> critic through a real Celery worker and a real
beat over Redis, against the loopback server's files and batches endpoints.

The worker claims each unit and stages its request; beat's `annotator.pipeline.poll_batches`
(every second here) uploads the JSONL, creates the batch, polls it, ingests the answers in the
worker and sends the units that follow. No chat request reaches the server directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

pytest.importorskip("openai")

from annotator.models import (
    BatchRequest,
    CriticVerdict,
    ModelBatch,
    PipelineRun,
    Sample,
    StageResult,
)
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import launch_pipeline_run, start_pipeline_run
from tests.support.celery_worker import REPO_ROOT, _worker_env, running_worker, wait_until
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import (
    ScriptedModels,
    expected_outcome,
    make_pipeline_dataset,
    write_config,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.ml,
    pytest.mark.django_db(transaction=True),
]
COUNT = 10


def test_annotate_verify_critic_in_batch_mode_through_a_worker_and_beat(tmp_path):
    dataset = make_pipeline_dataset(tmp_path / "images", count=COUNT)
    env = {"PIPELINE_BATCH_POLL_SECONDS": "1", "PIPELINE_RESEND_SECONDS": "5"}
    with OpenAIServer(default=ScriptedModels()) as server:
        path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
        path.write_text(path.read_text().replace("[defaults]\n", '[defaults]\nmode = "batch"\n'))
        config = load_pipeline_config(path=path)
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "annotator", "beat", "--loglevel", "WARNING",
             "--schedule", str(tmp_path / "beat-schedule")],
            cwd=REPO_ROOT, env={**_worker_env(), **env}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with running_worker(queues=("default", "gpu", "llm"), extra_env=env) as worker:
                started = start_pipeline_run(
                    dataset=dataset, config=config, stages="annotate,verify,critic"
                )
                assert launch_pipeline_run(started=started) == "broker"
                run = started.run
                wait_until(
                    lambda: PipelineRun.objects.get(pk=run.pk).status != "running",
                    worker=worker,
                    timeout=240,
                )
                log = worker.log(tail=100_000)
        finally:
            beat.terminate()
            beat.wait(timeout=30)
        direct = [r for r in server.requests if r.headers]

    run.refresh_from_db()
    assert run.status == "done", log[-4000:]
    assert not StageResult.objects.exclude(status__in=["done", "skipped"]).exists()
    assert direct == []  # every model call went through a batch
    batches = ModelBatch.objects.filter(run=run)
    assert {b.endpoint for b in batches} == {"gpt4o", "gemini", "critic"}
    assert set(batches.values_list("status", flat=True)) == {"done"}
    assert sum(server.calls.values()) == len(server.requests)
    assert max(server.calls.values()) == 1  # no unit's request answered twice
    for sample in Sample.objects.filter(dataset=dataset):
        index = int(sample.external_id.removeprefix("img-"))
        verdict = (
            CriticVerdict.objects.filter(sample=sample)
            .order_by("round")
            .values_list("verdict", flat=True)
            .first()
            or ""
        )
        assert (sample.status, verdict) == expected_outcome(index), sample.external_id


@contextmanager
def beat_process(tmp_path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "beat", "--loglevel", "WARNING",
         "--schedule", str(tmp_path / f"beat-{time.monotonic_ns()}")],
        cwd=REPO_ROOT, env={**_worker_env(), **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def test_batches_survive_the_worker_and_beat_killed_while_they_are_out(tmp_path):
    """SIGKILL the worker and beat while batches are submitted and not yet done; a new worker and
    beat poll the same batches (ids in the database): the run ends, no batch is created twice and
    no request is answered twice."""
    dataset = make_pipeline_dataset(tmp_path / "images", count=6, name="batch-crash")
    env = {"PIPELINE_BATCH_POLL_SECONDS": "1", "PIPELINE_RESEND_SECONDS": "5"}
    with OpenAIServer(default=ScriptedModels()) as server:
        server.batches.polls_before_done = 10**6  # no batch finishes before the kill
        path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
        path.write_text(path.read_text().replace("[defaults]\n", '[defaults]\nmode = "batch"\n'))
        config = load_pipeline_config(path=path)
        with ExitStack() as first:
            beat = first.enter_context(beat_process(tmp_path, env))
            worker = first.enter_context(running_worker(extra_env=env))
            started = start_pipeline_run(dataset=dataset, config=config, stages="annotate,verify")
            launch_pipeline_run(started=started)
            run = started.run
            held = StageResult.objects.filter(run=run, stage="annotate", claimed_by="batch")
            wait_until(  # every request staged and in a submitted batch, none answered yet
                lambda: (
                    held.count() == 12
                    and not BatchRequest.objects.filter(batch__isnull=True).exists()
                    and not ModelBatch.objects.filter(run=run).exclude(status="submitted").exists()
                ),
                worker=worker,
                timeout=60,
                every=0.05,
            )
            for process in (worker.process, beat):
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        submitted = set(ModelBatch.objects.filter(run=run).values_list("batch_id", flat=True))
        server.batches.polls_before_done = 0  # they finish when the new beat polls them
        with ExitStack() as second:
            second.enter_context(beat_process(tmp_path, env))
            worker = second.enter_context(running_worker(extra_env=env, purge=False))
            wait_until(
                lambda: PipelineRun.objects.get(pk=run.pk).status != "running",
                worker=worker,
                timeout=120,
            )

    run.refresh_from_db()
    assert run.status == "done"
    assert not StageResult.objects.exclude(status__in=["done", "skipped"]).exists()
    batches = ModelBatch.objects.filter(run=run)
    assert submitted <= set(batches.values_list("batch_id", flat=True))  # polled, not redone
    assert server.batches.created == batches.count()  # no batch created twice
    assert sum(server.calls.values()) == 12 and max(server.calls.values()) == 1
