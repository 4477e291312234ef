"""Crash and resume (issue 13 §6): kill every worker in the middle of a run, start them again,
and the run finishes with no unit lost and no model call sent twice for a unit that had
finished. The loopback server counts calls per unit (model + its first two messages).

Two worker processes (threads pool) are SIGKILLed together once a third of the units are done;
two fresh ones take over. The test plays Celery beat (the re-send check every half second):
the killed workers' units come back when their leases lapse.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from contextlib import ExitStack
from typing import Any

import pytest

pytest.importorskip("openai")

from annotator.models import PipelineRun, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import (
    launch_pipeline_run,
    resend_stuck_units,
    start_pipeline_run,
)
from tests.support.celery_worker import running_worker
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import make_pipeline_dataset, write_config
from tests.support.unit_faults import LEASE_SECONDS, SlowModels

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.ml,
    pytest.mark.django_db(transaction=True),
]
SAMPLES = 12
MODEL_STAGES = ("annotate", "critic")


def repeated_calls(before: Counter[str], after: Counter[str]) -> set[str]:
    """Units (call keys) already called before the kill that were called again after it."""
    return {key for key, count in before.items() if after[key] > count}


def test_killing_every_worker_mid_run_loses_nothing_and_repeats_no_finished_call(tmp_path):
    from django.conf import settings

    settings.PIPELINE_RESEND_SENT_AFTER_SECONDS = 20
    dataset = make_pipeline_dataset(tmp_path / "images", count=SAMPLES, name="crash-resume")
    env = {"PIPELINE_UNIT_LEASE_SECONDS": str(LEASE_SECONDS), "LOG_LEVEL": "WARNING"}
    options: dict[str, Any] = {"pool": "threads", "concurrency": 4, "extra_env": env}
    with OpenAIServer(default=SlowModels()) as server, ExitStack() as first:
        path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url, timeout_s=10)
        workers = [
            first.enter_context(running_worker(**options)),
            first.enter_context(running_worker(**options, purge=False)),
        ]
        started = start_pipeline_run(
            dataset=dataset, config=load_pipeline_config(path=path), stages="annotate,verify,critic"
        )
        launch_pipeline_run(started=started)
        run_id = started.run.pk
        units = StageResult.objects.filter(run_id=run_id)
        deadline = time.monotonic() + 120
        while units.filter(status__in=["done", "skipped"]).count() < units.count() // 3:
            assert time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.1)
        for worker in workers:  # every worker at once, mid-run
            os.kill(worker.process.pid, signal.SIGKILL)
        for worker in workers:
            worker.process.wait(timeout=10)
        calls_at_kill = Counter(server.calls)
        in_flight = units.filter(status="running", stage__in=MODEL_STAGES).count()
        finished_at_kill = units.filter(status__in=["done", "skipped"]).count()
        first.close()

        with ExitStack() as second:
            for _ in range(2):  # as a supervisor would: the queues are kept
                second.enter_context(running_worker(**options, purge=False))
            deadline = time.monotonic() + 180
            while PipelineRun.objects.get(pk=run_id).status == PipelineRun.Status.RUNNING:
                assert time.monotonic() < deadline, list(units.values_list("stage", "status"))
                resend_stuck_units()  # what beat does every PIPELINE_RESEND_SECONDS
                time.sleep(0.5)
        calls = Counter(server.calls)

    print(  # for the log of a -s run: how the kill landed
        f"units {units.count()}, finished at kill {finished_at_kill}, model calls in flight "
        f"{in_flight}, sent again {len(repeated_calls(calls_at_kill, calls))}, "
        f"calls {sum(calls.values())}"
    )
    assert 0 < finished_at_kill < units.count()
    assert PipelineRun.objects.get(pk=run_id).status == PipelineRun.Status.DONE
    assert units.exclude(status__in=["done", "skipped"]).count() == 0  # none lost, none failed
    repeated = repeated_calls(calls_at_kill, calls)
    # Only a call cut off by the kill may be sent again; a finished unit's never.
    assert len(repeated) <= in_flight, (repeated, in_flight)
    model_units = units.filter(stage__in=MODEL_STAGES, status="done").count()
    assert sum(calls.values()) == model_units + len(repeated)
    assert max(calls.values()) <= 2
