"""Unit claims name their process and hold a lease; a dead worker's unit is retaken; only the
claim holder records a result; lapsed, unsent and lost units are sent again (the re-send check)."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotator.models import PipelineRun, StageResult
from annotator.pipeline.runs import lease
from annotator.pipeline.runs.claim import claim_unit, take_unit
from annotator.pipeline.runs.context import Computed, UnitContext
from annotator.pipeline.runs.execution import execute_unit, finish_unit
from annotator.pipeline.runs.recovery import resend_stuck_units
from annotator.services.pipeline_runs import (
    check_run_for_stuck_units,
    launch_pipeline_run,
    start_pipeline_run,
)
from tests.annotator.pipeline.runs.test_units_and_claims import CONFIG
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.pipeline_runs import make_pipeline_dataset

LEASE = 60


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_UNIT_LEASE_SECONDS = LEASE


@pytest.fixture
def worker(monkeypatch):
    """This test process plays a worker named w@host whose main process is itself."""
    monkeypatch.setattr(lease, "_identity", lease._Identity("w@host", os.getpid(), True))


@pytest.fixture
def started(tmp_path, db):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2)
    return start_pipeline_run(dataset=dataset, config=CONFIG, stages="annotate,verify")


def unit_id(started) -> int:
    return started.report.start[0].id


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def hold_as(pk: int, holder: str, *, lease_s: float = LEASE) -> None:
    StageResult.objects.filter(pk=pk).update(
        status="running", claimed_by=holder, lease_until=timezone.now() + timedelta(seconds=lease_s)
    )


def test_a_claim_names_its_process_and_holds_a_lease(started, worker):
    before = timezone.now()
    unit = claim_unit(unit_id=unit_id(started))
    assert unit is not None and unit.claimed_by == f"w@host:{os.getpid()}:{os.getpid()}"
    assert unit.send_due is None and unit.lease_until is not None  # nothing left to send
    assert (
        before + timedelta(seconds=LEASE)
        <= unit.lease_until
        <= timezone.now() + timedelta(seconds=LEASE)
    )


def test_a_dead_process_of_this_worker_is_taken_over_at_once(started, worker):
    """A prefork child killed: the broker hands its message to a sibling straight away."""
    pk = unit_id(started)
    hold_as(pk, f"w@host:{os.getpid()}:{dead_pid()}")
    taken = take_unit(unit_id=pk)
    assert taken.unit is not None and taken.unit.claimed_by == lease.holder_id()


def test_a_live_holder_or_another_workers_claim_is_busy_until_its_lease_lapses(started, worker):
    pk = unit_id(started)
    for holder in (f"w@host:{os.getpid()}:{os.getppid()}", "other@host2:7:8"):
        hold_as(pk, holder)
        taken = take_unit(unit_id=pk)
        assert taken.unit is None and taken.busy_for is not None
        assert LEASE - 2 < taken.busy_for <= LEASE + 1
        outcome = execute_unit(unit_id=pk)
        assert outcome.status == "busy" and outcome.retry_in == pytest.approx(LEASE + 1, abs=2)
    hold_as(pk, "other@host2:7:8", lease_s=-1)  # its lease lapsed: the worker is gone
    assert take_unit(unit_id=pk).unit is not None


def test_a_worker_process_retakes_its_own_claim_a_web_process_does_not(started, worker):
    pk = unit_id(started)
    hold_as(pk, lease.holder_id())
    assert take_unit(unit_id=pk).unit is not None  # one task at a time: its earlier try ended
    lease._identity.single_task = False  # the web process runs units in threads
    assert take_unit(unit_id=pk).unit is None
    assert take_unit(unit_id=pk, retake_own=True).unit is not None  # a retry of its own


def test_the_lease_is_renewed_while_held_and_not_once_taken_over(started, worker):
    pk = unit_id(started)
    unit = claim_unit(unit_id=pk)
    assert unit is not None
    StageResult.objects.filter(pk=pk).update(lease_until=timezone.now() + timedelta(seconds=5))
    lease.hold(unit_id=pk, holder=unit.claimed_by)
    try:
        assert lease.renew_leases() == 1
        renewed = StageResult.objects.get(pk=pk).lease_until
        assert renewed is not None and renewed > timezone.now() + timedelta(seconds=LEASE - 5)
        StageResult.objects.filter(pk=pk).update(claimed_by="other@host2:7:8")
        assert lease.renew_leases() == 0  # not ours any more: left to lapse
    finally:
        lease.release(unit_id=pk)
    assert lease.renew_leases() == 0


def test_only_the_claim_holder_records_the_result(started, worker):
    """A unit thought dead and taken over: the first holder's late result is dropped."""
    pk = unit_id(started)
    first = claim_unit(unit_id=pk)
    assert first is not None
    second = claim_unit(unit_id=pk, holder="other@host2:7:8", takeover_from=first.claimed_by)
    assert second is not None
    assert finish_unit(UnitContext(first, CONFIG), Computed()).status == "lost"
    assert StageResult.objects.get(pk=pk).status == "running"
    assert finish_unit(UnitContext(second, CONFIG), Computed()).status == "done"
    assert StageResult.objects.get(pk=pk).attempts == 2


# --- the re-send check ---------------------------------------------------------------------------


@pytest.fixture
def publishing(settings):
    """Tasks go to a broker (memory://) instead of running inline."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("memory://", settings):
        yield


def test_a_lapsed_claim_is_released_and_sent_again(started, publishing):
    pk = unit_id(started)
    StageResult.objects.filter(pk__in=[r.id for r in started.report.start]).update(send_due=None)
    hold_as(pk, "dead@host:1:2", lease_s=-1)
    report = resend_stuck_units(run_ids=[started.run.pk])
    assert (report.released, report.sent, report.unsent) == (1, 1, 0)
    unit = StageResult.objects.get(pk=pk)
    assert (unit.status, unit.claimed_by, unit.send_due) == ("pending", "", None)
    assert unit.sent_at is not None


def test_a_unit_due_but_not_sent_is_sent_after_a_moment_not_at_once(started, publishing):
    due = [r.id for r in started.report.start]
    assert StageResult.objects.filter(pk__in=due, send_due__isnull=False).count() == len(due)
    assert resend_stuck_units(run_ids=[started.run.pk]).sent == 0  # its publish is under way
    later = timezone.now() + timedelta(seconds=10)
    assert resend_stuck_units(run_ids=[started.run.pk], now=later).sent == len(due)
    assert not StageResult.objects.filter(send_due__isnull=False).exists()


def test_a_cancelled_run_has_nothing_sent_again(started, publishing):
    from annotator.services.pipeline_runs import cancel_pipeline_run

    cancel_pipeline_run(run=started.run)
    later = timezone.now() + timedelta(seconds=10)
    assert resend_stuck_units(now=later).sent == 0
    assert not StageResult.objects.filter(send_due__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_started_with_the_broker_away_waits_then_starts(tmp_path, settings):
    """Before: apply_async raised into the request (500) and the run stayed "running"."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    dataset = make_pipeline_dataset(tmp_path / "images", count=2)
    started = start_pipeline_run(dataset=dataset, config=CONFIG, stages="annotate,verify")
    run = started.run
    with broker_at(UNREACHABLE_BROKER, settings):
        assert launch_pipeline_run(started=started) == "waiting"
        assert run.status == PipelineRun.Status.PENDING
        run.refresh_from_db()
        a_moment_ago = timezone.now() - timedelta(seconds=10)
        StageResult.objects.filter(run=run, send_due__isnull=False).update(send_due=a_moment_ago)
        report = check_run_for_stuck_units(run=run)  # the progress page, broker still away
        assert report.sent == 0 and report.unsent == 4
        assert check_run_for_stuck_units(run=run).unsent == 0  # checked a moment ago: skipped
    PipelineRun.objects.filter(pk=run.pk).update(checked_at=None)
    with broker_at("memory://", settings):
        report = check_run_for_stuck_units(run=run)
    assert (report.sent, report.unsent, report.started) == (4, 0, 1)
    run.refresh_from_db()
    assert run.status == PipelineRun.Status.RUNNING
    assert StageResult.objects.filter(run=run, sent_at__isnull=False).count() == 4


@pytest.mark.django_db(transaction=True)
def test_run_pipeline_with_the_broker_away_says_the_run_waits(tmp_path, settings):
    from tests.support.pipeline_runs import write_config

    settings.CELERY_TASK_ALWAYS_EAGER = False
    dataset = make_pipeline_dataset(tmp_path / "images", count=1)
    config = write_config(tmp_path / "pipeline.toml", base_url="http://127.0.0.1:9/v1")
    err = io.StringIO()
    with broker_at(UNREACHABLE_BROKER, settings):
        call_command(
            "run_pipeline", "--dataset", dataset.name, "--config", str(config), "--no-wait",
            stdout=io.StringIO(), stderr=err,
        )  # fmt: skip
    run = PipelineRun.objects.get()
    assert f"The broker does not answer: run {run.pk} waits" in err.getvalue()
    assert run.status == PipelineRun.Status.PENDING
