"""The pipeline's Celery tasks, run eagerly (no broker): queues, chaining, retry countdowns.

Tasks publish the next stage on commit; in eager mode that publish runs the next task inline,
so capturing the on-commit callbacks and executing them walks a sample through its stages with
the same code a worker runs.
"""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

pytest.importorskip("openai")

from annotator.celery import app
from annotator.models import Sample, StageResult
from annotator.pipeline import tasks
from annotator.pipeline.config import load_pipeline_config
from annotator.pipeline.runs.dispatch import publish_units
from annotator.pipeline.runs.units import STAGES, UnitRef
from annotator.services.pipeline_runs import launch_pipeline_run, start_pipeline_run
from tests.support.broker import broker_at
from tests.support.openai_server import OpenAIServer, rate_limited
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


@pytest.fixture
def started(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=3)
    path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
    return start_pipeline_run(dataset=dataset, config=load_pipeline_config(path=path))


@pytest.fixture(autouse=True)
def eager(settings):
    """Tasks run inline, as without a broker, even when the test run has one configured."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def publishing():
    """Tasks are published (as with a broker), not run inline."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


def test_each_unit_is_published_to_its_stages_queue(publishing):
    refs = [UnitRef(11, "annotate"), UnitRef(12, "ground"), UnitRef(13, "verify")]
    with app.connection_for_write("memory://") as connection:
        for queue in ("llm", "gpu", "default"):  # what earlier tests left in memory://
            with connection.SimpleQueue(queue) as simple:
                simple.clear()
        assert publish_units(refs, producer=app.amqp.Producer(connection))
        received = {}
        for queue in ("llm", "gpu", "default"):
            with connection.SimpleQueue(queue) as simple:
                message = simple.get(timeout=1)
                received[queue] = (message.headers["task"], message.headers["argsrepr"])
                message.ack()
    assert received == {
        "llm": ("annotator.pipeline.chunk", "('annotate', [11])"),  # model stages: chunks
        "gpu": ("annotator.pipeline.ground", "(12,)"),
        "default": ("annotator.pipeline.verify", "(13,)"),
    }


def test_autodiscovery_registers_a_task_per_stage():
    app.loader.import_default_modules()  # what a worker does at start
    assert {f"annotator.pipeline.{stage}" for stage in STAGES} <= set(app.tasks)
    assert "annotator.pipeline.chunk" in app.tasks
    assert all(task.acks_late for task in [*tasks.STAGE_TASKS.values(), tasks.run_chunk])


def test_eager_tasks_chain_every_stage_after_commit(
    started, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker is "configured": tasks are published
    with broker_at("memory://", settings, eager=True):
        with django_capture_on_commit_callbacks() as callbacks:
            assert launch_pipeline_run(started=started) == "broker"
        assert len(callbacks) == 1  # one publish, after the run's transaction commits

        settings.CELERY_TASK_ALWAYS_EAGER = True  # ... and here the publish runs them inline
        with django_capture_on_commit_callbacks(execute=True):
            callbacks[0]()
    statuses = dict(Sample.objects.values_list("external_id", "status"))
    assert statuses == {"img-0000": "agreed", "img-0001": "dropped", "img-0002": "agreed"}
    assert not StageResult.objects.filter(status__in=["pending", "running"]).exists()
    started.run.refresh_from_db()
    assert started.run.status == "done"


@pytest.fixture
def inline_retries(settings):
    """Retries published inline (memory://, eager) whatever earlier tests did to the app."""
    with broker_at("memory://", settings, eager=True):
        yield


def test_a_transient_error_retries_the_task_with_the_retry_after_countdown(
    started, server, inline_retries
):
    server.enqueue(rate_limited(retry_after="7"))
    unit_id = started.report.start[0].id
    tasks.annotate_unit.push_request(
        id="test-task", retries=0, delivery_info={}, args=[unit_id], called_directly=False
    )
    try:
        with pytest.raises(Retry) as caught:
            tasks.annotate_unit.run(unit_id)
    finally:
        tasks.annotate_unit.pop_request()
    assert caught.value.when == 7.0
    unit = StageResult.objects.get(pk=unit_id)
    # Eager mode sent the retry inline, and it claimed the unit the 429 left pending.
    assert (unit.status, unit.attempts) == ("done", 2)


def test_a_retried_task_runs_the_unit_again(started):
    unit_id = started.report.start[0].id
    StageResult.objects.filter(pk=unit_id).update(status="running")  # its first try was cut off
    result = tasks.annotate_unit.apply(args=[unit_id], retries=1)
    assert result.get() == "done"
    assert StageResult.objects.get(pk=unit_id).status == "done"


def test_a_duplicate_message_does_nothing(started):
    unit_id = started.report.start[0].id
    assert tasks.annotate_unit.apply(args=[unit_id]).get() == "done"
    assert tasks.annotate_unit.apply(args=[unit_id]).get() == "idle"


def test_messages_come_back_within_the_visibility_timeout_and_beat_resends():
    """kombu's default (3,600 s) kept a killed solo worker's message an hour."""
    from django.conf import settings

    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == settings.BROKER_VISIBILITY_TIMEOUT == 900
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    app.loader.import_default_modules()
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"annotator.resend_stuck_units", "review.resend_stuck_mask_edits"} <= schedule
    assert {"annotator.resend_stuck_units", "review.resend_stuck_mask_edits"} <= set(app.tasks)


def test_a_retry_the_broker_refuses_leaves_the_unit_due_for_the_resend_check(
    started, server, monkeypatch
):
    from kombu.exceptions import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr("celery.canvas.Signature.apply_async", refuse)
    server.enqueue(rate_limited(retry_after="7"))
    unit_id = started.report.start[0].id
    tasks.annotate_unit.push_request(
        id="test-task", retries=0, delivery_info={}, args=[unit_id], called_directly=False
    )
    try:
        assert tasks.annotate_unit.run(unit_id) == "retry"  # no Reject, no lost unit
    finally:
        tasks.annotate_unit.pop_request()
    unit = StageResult.objects.get(pk=unit_id)
    assert (unit.status, unit.claimed_by) == ("pending", "") and unit.send_due is not None
