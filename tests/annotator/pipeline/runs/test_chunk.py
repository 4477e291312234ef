"""Chunks of units (runs/chunk.py): one claim, the calls, one write; the unit's guarantees kept.

Run on SQLite by default and on PostgreSQL with DATABASE_URL (its claim is one UPDATE ...
RETURNING over an array of ids).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotator.models import CriticVerdict, PipelineRun, Sample, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.pipeline.runs.chunk import execute_chunk, shutdown_pool
from annotator.pipeline.runs.claim import claim_units
from annotator.pipeline.runs.dispatch import messages
from annotator.pipeline.runs.units import UnitRef
from annotator.services.pipeline_runs import (
    cancel_pipeline_run,
    run_pipeline_in_process,
    start_pipeline_run,
)
from tests.support.openai_server import OpenAIServer, server_error
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

pytest.importorskip("openai")
pytestmark = [pytest.mark.ml, pytest.mark.django_db]
STAGES = "annotate,verify,critic"


@pytest.fixture(autouse=True)
def _in_process(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PIPELINE_CHUNK_THREADS = 1  # pool threads would not see the test's transaction


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


def start(tmp_path: Any, server: OpenAIServer, name: str, count: int = 6) -> Any:
    dataset = make_pipeline_dataset(tmp_path / name, count=count, name=name)
    path = write_config(tmp_path / f"{name}.toml", base_url=server.base_url)
    config = load_pipeline_config(path=path)
    return start_pipeline_run(dataset=dataset, config=config, stages=STAGES)


def drive(refs: list[UnitRef]) -> dict[str, int]:
    """What the chunk tasks do, in order: each stage's ready units as one chunk."""
    statuses: dict[str, int] = {}
    while refs:
        stage = refs[0].stage
        ids = [ref.id for ref in refs if ref.stage == stage]
        refs = [ref for ref in refs if ref.stage != stage]
        outcome = execute_chunk(stage=stage, unit_ids=ids)
        assert outcome.later == []
        for status, count in outcome.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        refs += outcome.next_units
    return statuses


def results(run: PipelineRun) -> list[list[Any]]:
    units = StageResult.objects.filter(run=run).values_list(
        "sample__external_id", "stage", "model_name", "round", "status"
    )
    samples = Sample.objects.filter(dataset=run.dataset).values_list(
        "external_id", "status", "suggested_emotion"
    )
    verdicts = CriticVerdict.objects.filter(sample__dataset=run.dataset).values_list(
        "sample__external_id", "round", "verdict"
    )
    return [sorted(units), sorted(samples), sorted(verdicts)]


def test_chunks_give_the_run_the_unit_grain_gives_with_the_same_calls(tmp_path, server):
    with OpenAIServer(default=ScriptedModels()) as other:  # its own critic rounds
        by_unit = start(tmp_path, other, "by-unit")
        run_pipeline_in_process(started=by_unit)
    by_chunk = start(tmp_path, server, "by-chunk")

    statuses = drive(list(by_chunk.report.start))

    assert PipelineRun.objects.get(pk=by_chunk.run.pk).status == PipelineRun.Status.DONE
    assert results(by_chunk.run) == results(PipelineRun.objects.get(pk=by_unit.run.pk))
    assert server.calls == other.calls  # the same calls, not one more
    assert (
        statuses["done"]
        == StageResult.objects.filter(
            run=by_chunk.run, stage__in=["annotate", "critic"], status="done"
        ).count()
    )
    assert {"revise", "drop", "preserve"} <= {v[2] for v in results(by_chunk.run)[2]}


def test_a_chunk_sent_twice_claims_and_calls_nothing_the_second_time(tmp_path, server):
    started = start(tmp_path, server, "twice", count=3)
    ids = [ref.id for ref in started.report.start]
    execute_chunk(stage="annotate", unit_ids=ids)
    calls = sum(server.calls.values())

    again = execute_chunk(stage="annotate", unit_ids=ids)

    assert again.statuses == {"idle": len(ids)}
    assert (again.next_units, again.later) == ([], [])
    assert sum(server.calls.values()) == calls


def test_a_unit_a_live_process_holds_comes_back_later_and_the_rest_run(tmp_path, server):
    started = start(tmp_path, server, "held", count=2)
    ids = [ref.id for ref in started.report.start]
    lease = timezone.now() + timedelta(seconds=60)
    StageResult.objects.filter(pk=ids[0]).update(
        status="running", claimed_by="other-host:1:1", lease_until=lease
    )

    outcome = execute_chunk(stage="annotate", unit_ids=ids)

    ((later, delay),) = outcome.later
    assert later == UnitRef(ids[0], "annotate") and 55 < delay < 65
    assert outcome.statuses == {"busy": 1, "done": len(ids) - 1}
    held = StageResult.objects.get(pk=ids[0])
    assert (held.status, held.claimed_by) == ("running", "other-host:1:1")
    assert sum(server.calls.values()) == len(ids) - 1


def test_a_transient_error_retries_its_unit_alone(tmp_path, server):
    started = start(tmp_path, server, "transient", count=2)
    ids = [ref.id for ref in started.report.start]
    server.enqueue(server_error(503))  # the chunk's first request

    outcome = execute_chunk(stage="annotate", unit_ids=ids)

    ((later, delay),) = outcome.later
    assert outcome.statuses == {"retry": 1, "done": len(ids) - 1}
    retried = StageResult.objects.get(pk=later.id)
    assert retried.status == "pending" and retried.send_due is not None
    assert "HTTP 503" in retried.error and delay > 0
    assert StageResult.objects.filter(pk__in=ids, status="done").count() == len(ids) - 1


def test_a_cancelled_runs_chunk_claims_nothing(tmp_path, server):
    started = start(tmp_path, server, "cancelled", count=2)
    cancel_pipeline_run(run=started.run)
    ids = [ref.id for ref in started.report.start]

    assert claim_units(unit_ids=ids) == []
    assert execute_chunk(stage="annotate", unit_ids=ids).statuses == {"idle": len(ids)}
    assert sum(server.calls.values()) == 0


def test_model_stage_units_go_chunk_size_to_a_message_and_the_others_alone(settings):
    settings.PIPELINE_CHUNK_UNITS = 3
    refs = [UnitRef(pk, "annotate") for pk in range(1, 8)] + [
        UnitRef(20, "ground"),
        UnitRef(21, "critic"),
    ]

    assert messages(refs) == [
        ("annotate", [1, 2, 3]),
        ("annotate", [4, 5, 6]),
        ("annotate", [7]),
        ("critic", [21]),
        ("ground", [20]),
    ]
    settings.PIPELINE_CHUNK_UNITS = 1
    assert messages(refs[:2]) == [("annotate", [1]), ("annotate", [2])]


@pytest.mark.django_db(transaction=True)
def test_a_chunks_calls_run_on_the_process_pool(tmp_path, server, settings):
    settings.PIPELINE_CHUNK_THREADS = 4
    started = start(tmp_path, server, "pool", count=4)

    try:
        statuses = drive(list(started.report.start))
    finally:
        shutdown_pool()  # and the pool threads' connections to the test database

    assert PipelineRun.objects.get(pk=started.run.pk).status == PipelineRun.Status.DONE
    assert statuses["done"] == len(server.calls)  # one call per unit, every unit recorded


def test_a_chunks_units_share_one_run_dataset_and_taxonomy_read(tmp_path, server):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")
    started = start(tmp_path, server, "shared", count=3)

    units = claim_units(unit_ids=[ref.id for ref in started.report.start])

    assert len(units) == 6 and len({unit.sample_id for unit in units}) == 3
    runs = {id(unit.run): unit.run for unit in units}
    assert len(runs) == 1  # its config parsed once
    assert len({id(unit.sample.dataset.taxonomy) for unit in units}) == 1
    (run,) = runs.values()
    assert run is not None and run.config == PipelineRun.objects.get(pk=started.run.pk).config
