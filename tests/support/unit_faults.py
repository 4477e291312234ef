"""Kill real Celery workers (SIGKILL) in the middle of pipeline units, then check that every unit
completed exactly once. Used by tests/integration/test_pipeline_worker.py and bench/faults_units.py.

Solo pool: the whole worker is killed while a unit runs and a new one is started (as a
supervisor would); the killed unit's message waits in Redis' unacked set, and its claim's lease
lapses, so the re-send check sends it again. Prefork pool: the child running a unit is killed;
the worker requeues its message at once and a sibling takes over the dead child's claim.
The test process plays Celery beat: it runs the re-send check every half second.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotator.models import PipelineRun, StageResult
from tests.support.celery_worker import Worker, running_worker
from tests.support.openai_server import Behaviour, OpenAIServer
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

LEASE_SECONDS = 3  # the workers' unit lease: a dead solo worker's unit is retaken this soon
REPLY_DELAY_S = 0.4  # every model call takes this long, so a kill lands mid-unit


@dataclass
class FaultReport:
    pool: str
    units: int = 0
    completed: int = 0  # units done or skipped
    lost: int = 0  # units not finished when the run should have ended
    failed: int = 0
    kills: int = 0
    killed_mid_unit: int = 0  # killed units whose try was cut off (retried: attempts >= 2)
    recover_s: list[float] = field(default_factory=list)  # kill -> that unit finished
    seconds: float = 0.0
    run_status: str = ""
    killed: list[tuple[int, str, int, str]] = field(default_factory=list)  # id, stage, tries, by


@dataclass
class _Kill:
    unit_id: int
    pid: int
    at: float


class SlowModels(ScriptedModels):
    def __call__(self, body: dict[str, Any]) -> Behaviour:
        return dataclasses.replace(super().__call__(body), delay_s=REPLY_DELAY_S)


def run_with_kills(
    *, root: Path, pool: str, kills: int, samples: int = 6, timeout: float = 120.0
) -> FaultReport:
    """One pipeline run over `samples` samples (annotate, verify, critic) on a real worker,
    killed `kills` times mid-unit. Needs PostgreSQL + Redis (a transactional test database)."""
    from django.conf import settings

    from annotator.pipeline.config import load_pipeline_config
    from annotator.services.pipeline_runs import (
        launch_pipeline_run,
        resend_stuck_units,
        start_pipeline_run,
    )

    settings.PIPELINE_RESEND_SENT_AFTER_SECONDS = 20
    dataset = make_pipeline_dataset(root / "images", count=samples, name=f"faults-{pool}")
    env = {"PIPELINE_UNIT_LEASE_SECONDS": str(LEASE_SECONDS), "LOG_LEVEL": "WARNING"}
    report = FaultReport(pool=pool)
    with OpenAIServer(default=SlowModels()) as server, ExitStack() as stack:
        path = write_config(root / "pipeline.toml", base_url=server.base_url, timeout_s=10)
        concurrency = 2 if pool == "prefork" else 1
        options: dict[str, Any] = {"pool": pool, "concurrency": concurrency, "extra_env": env}
        worker = stack.enter_context(running_worker(**options))
        started = start_pipeline_run(
            dataset=dataset, config=load_pipeline_config(path=path), stages="annotate,verify,critic"
        )
        began = time.monotonic()
        launch_pipeline_run(started=started)
        run_id, killed = started.run.pk, list[_Kill]()
        while time.monotonic() - began < timeout:
            resend_stuck_units()  # what beat does every PIPELINE_RESEND_SECONDS
            if PipelineRun.objects.get(pk=run_id).status != PipelineRun.Status.RUNNING:
                break
            victim = None
            if len(killed) < kills:
                victim = _kill_a_running_unit(worker, pool, {k.pid for k in killed})
            if victim is not None:
                killed.append(victim)
                if pool == "solo":  # a supervisor starts it again; the queue is kept
                    worker = stack.enter_context(running_worker(**options, purge=False))
            _note_recoveries(killed, report)
            time.sleep(0.5)
        report.seconds = time.monotonic() - began
        _note_recoveries(killed, report)
    return _count(report, run_id, killed)


def _kill_a_running_unit(worker: Worker, pool: str, dead: set[int]) -> _Kill | None:
    """SIGKILL the process running a unit whose model call is under way; None when none is."""
    rows = StageResult.objects.filter(status="running", stage__in=["annotate", "critic"])
    for pk, holder in rows.values_list("id", "claimed_by"):
        pid = int(holder.rsplit(":", 1)[-1]) if holder else 0
        if pid and pid not in dead and (pool != "solo" or pid == worker.process.pid):
            time.sleep(REPLY_DELAY_S / 3)  # into the call
            if not StageResult.objects.filter(pk=pk, status="running", claimed_by=holder).exists():
                return None
            os.kill(pid, signal.SIGKILL)
            if pool == "solo":
                worker.process.wait(timeout=10)
            return _Kill(pk, pid, time.monotonic())
    return None


def _note_recoveries(killed: list[_Kill], report: FaultReport) -> None:
    seen = len(report.recover_s)
    for kill in killed[seen:]:
        if StageResult.objects.filter(pk=kill.unit_id, status__in=["done", "skipped"]).exists():
            report.recover_s.append(time.monotonic() - kill.at)
        else:
            break


def _count(report: FaultReport, run_id: int, killed: list[_Kill]) -> FaultReport:
    units = StageResult.objects.filter(run_id=run_id)
    report.units = units.count()
    report.completed = units.filter(status__in=["done", "skipped"]).count()
    report.failed = units.filter(status="failed").count()
    report.lost = units.filter(status__in=["pending", "running"]).count()
    report.kills = len(killed)
    report.killed_mid_unit = units.filter(
        pk__in=[kill.unit_id for kill in killed], attempts__gte=2
    ).count()
    report.run_status = str(PipelineRun.objects.get(pk=run_id).status)
    rows = units.filter(pk__in=[kill.unit_id for kill in killed])
    report.killed = list(rows.values_list("id", "stage", "attempts", "claimed_by"))
    return report
