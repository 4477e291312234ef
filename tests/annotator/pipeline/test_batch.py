"""Batch mode in-process: the real openai client against the loopback server's files and
batches endpoints; the same outcomes as direct calls (test_orchestrator.py's scripted models)."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")

from annotator.models import (
    BatchRequest,
    CriticVerdict,
    ModelBatch,
    PipelineRun,
    Proposal,
    Sample,
    StageResult,
)
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import (
    run_pipeline_in_process,
    start_pipeline_run,
)
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import (
    ScriptedModels,
    make_pipeline_dataset,
    sample_index,
    write_config,
)

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


@pytest.fixture
def five(tmp_path):
    return make_pipeline_dataset(tmp_path / "images", count=5)


def batch_config(tmp_path, server, **options):
    path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url, **options)
    path.write_text(path.read_text().replace("[defaults]\n", '[defaults]\nmode = "batch"\n', 1))
    return load_pipeline_config(path=path)


def run(dataset, config) -> PipelineRun:
    return run_pipeline_in_process(started=start_pipeline_run(dataset=dataset, config=config))


def direct_calls(server) -> list:
    return [r for r in server.requests if r.headers]  # batch lines come without HTTP headers


def expected_status(index: int) -> str:
    if index % 3 == 0:
        return "agreed"
    return {1: "dropped", 2: "agreed"}.get(index % 5, "disputed")


def test_a_batch_run_ends_as_a_direct_run_does_without_a_direct_call(tmp_path, server, five):
    finished = run(five, batch_config(tmp_path, server))

    assert finished.status == PipelineRun.Status.DONE
    assert not finished.results.exclude(status__in=["done", "skipped"]).exists()
    for sample in Sample.objects.filter(dataset=five):
        assert sample.status == expected_status(sample_index(sample.external_id))
    assert direct_calls(server) == []
    # round 0: one batch per annotator, then the critic's (1, 2, 4); round 1 (sample 2, revised):
    # the annotators again, who then agree (no critic)
    batches = ModelBatch.objects.filter(run=finished)
    assert set(batches.values_list("status", "provider_status")) == {("done", "completed")}
    assert sorted(batches.values_list("endpoint", "requests")) == [
        ("critic", 3), ("gemini", 1), ("gemini", 5), ("gpt4o", 1), ("gpt4o", 5),
    ]  # fmt: skip
    assert server.batches.created == batches.count()
    assert not BatchRequest.objects.exists()  # bodies (images) dropped once ingested
    unit = StageResult.objects.get(sample__external_id="img-0004", stage="annotate",
                                   model_name="gemini", round=0)  # fmt: skip
    assert (unit.input_tokens, unit.output_tokens, unit.attempts) == (120, 40, 1)
    assert Proposal.objects.get(sample=unit.sample, model_name="gemini").emotion == "fear"
    assert CriticVerdict.objects.get(sample__external_id="img-0004").verdict == "preserve"
    for line in server.requests:  # the JSONL bodies are the chat requests the client would send
        assert line.response_format_type == "json_schema" and line.image_urls()
