"""Batch mode in-process: the real openai client against the loopback server's files and
batches endpoints; the same outcomes as direct calls (the scripted models of
tests/annotator/services/test_pipeline_runs.py)."""

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
from annotator.pipeline.batch import poll_batches
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import (
    cancel_pipeline_run,
    run_pipeline_in_process,
    start_pipeline_run,
)
from tests.support.openai_server import OpenAIServer, error, malformed, server_error
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


@pytest.mark.slow
def test_error_lines_are_retried_or_failed_and_an_invalid_reply_is_repaired_directly(
    tmp_path, server, five
):
    # The first batch processed is gemini's (samples 0..4 in order): 500, 400, malformed, ok...
    server.enqueue(server_error(), error(400, "image too large"), malformed())
    finished = run(five, batch_config(tmp_path, server))

    assert finished.status == PipelineRun.Status.DONE

    def gemini(index: int) -> StageResult:
        return StageResult.objects.get(
            sample__external_id=f"img-000{index}", stage="annotate", model_name="gemini", round=0
        )

    retried, refused, repaired = gemini(0), gemini(1), gemini(2)
    assert (retried.status, retried.attempts) == ("done", 2)  # a second batch answered it
    assert refused.status == "failed" and "HTTP 400: image too large" in refused.error
    assert StageResult.objects.get(sample=refused.sample, stage="verify").error == (
        "not run: annotate failed"
    )
    assert repaired.status == "done" and repaired.output.get("repaired") is True
    direct = direct_calls(server)
    assert len(direct) == 1  # the repair, sent as a direct call
    assert direct[0].body["messages"][-2]["role"] == "assistant"


@pytest.mark.slow
def test_requests_a_batch_left_unanswered_when_it_expired_are_batched_again(tmp_path, server, five):
    server.batches.expire_after = 3
    finished = run(five, batch_config(tmp_path, server))

    assert finished.status == PipelineRun.Status.DONE
    assert not finished.results.exclude(status__in=["done", "skipped"]).exists()
    expired = ModelBatch.objects.filter(run=finished, provider_status="expired")
    assert expired.filter(endpoint="gemini", requests=5).exists()
    again = StageResult.objects.filter(run=finished, stage="annotate", round=0, attempts=2)
    assert again.count() == 4  # samples 3 and 4 of each annotator
    assert direct_calls(server) == []


def stage_first_units(tmp_path, server, dataset) -> PipelineRun:
    from annotator.pipeline.runs.execution import execute_unit

    started = start_pipeline_run(dataset=dataset, config=batch_config(tmp_path, server))
    for ref in started.report.start:
        assert execute_unit(unit_id=ref.id).status == "staged"
    return started.run


def test_cancelling_the_run_cancels_its_batches_at_the_provider(tmp_path, server, five):
    server.batches.polls_before_done = 10**6  # never finishes by itself
    run_ = stage_first_units(tmp_path, server, five)
    assert poll_batches(run_ids=[run_.pk]).submitted == 2
    held = StageResult.objects.filter(run=run_, status="running", claimed_by="batch")
    assert held.count() == 10 and BatchRequest.objects.count() == 10

    cancel_pipeline_run(run=run_)
    assert not poll_batches().open

    assert {b.status for b in server.batches.batches.values()} == {"cancelled"}
    assert set(ModelBatch.objects.values_list("status", flat=True)) == {"cancelled"}
    assert not held.exists() and not BatchRequest.objects.exists()
    pending = StageResult.objects.filter(run=run_, stage="annotate", status="pending")
    assert pending.count() == 10  # running the pipeline again stages them anew


@pytest.mark.slow
def test_a_batch_created_before_a_crash_is_found_by_its_key_not_sent_twice(tmp_path, server, five):
    from annotator.pipeline.runs.local import LocalRunner

    server.batches.polls_before_done = 1
    run_ = stage_first_units(tmp_path, server, five)
    poll_batches(run_ids=[run_.pk])
    assert server.batches.created == 2
    # As if the process died after batches.create and before the id was saved.
    ModelBatch.objects.update(status="open", batch_id="", input_file_id="uploading")

    LocalRunner(run_id=run_.pk, sleep=lambda s: None).run([])

    run_.refresh_from_db()
    assert run_.status == PipelineRun.Status.DONE
    first_two = ModelBatch.objects.filter(run=run_).order_by("id")[:2]
    assert [b.batch_id for b in first_two] == ["batch_2", "batch_4"]  # found, not created again
    assert sum(server.calls.values()) == len(server.requests)
    assert max(server.calls.values()) == 1  # every request (unit) answered once


def test_requests_of_units_let_go_meanwhile_keep_no_run_waiting(tmp_path, server, five):
    from annotator.services.pipeline_runs import release_running_units

    run_ = stage_first_units(tmp_path, server, five)
    release_running_units(run=run_)  # what Ctrl+C does to an in-process run's units

    polled = poll_batches(run_ids=[run_.pk])
    assert not polled.open and polled.submitted == 0 and server.batches.created == 0


def test_a_batch_answer_already_paid_is_ingested_past_the_budget_and_nothing_new_is_sent(
    tmp_path, server, five, monkeypatch
):
    from annotator.pipeline.runs import budget

    monkeypatch.setattr(budget, "CHECK_EVERY_S", 0.0)  # read the spend at every check
    prices = "input_price_per_mtok = 1000\noutput_price_per_mtok = 1000\n"
    path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url,
                        pipeline={"budget": 0.1})  # fmt: skip
    text = path.read_text().replace("[defaults]\n", f'[defaults]\nmode = "batch"\n{prices}', 1)
    path.write_text(text)
    finished = run(five, load_pipeline_config(path=path))

    # Every annotation was staged under the budget and is paid once answered: all kept.
    annotate = StageResult.objects.filter(run=finished, stage="annotate", round=0)
    assert set(annotate.values_list("status", flat=True)) == {"done"}
    critic = StageResult.objects.filter(run=finished, stage="critic").exclude(status="skipped")
    assert critic.exists() and set(critic.values_list("status", flat=True)) == {"failed"}
    assert all(
        error.startswith("budget reached") for error in critic.values_list("error", flat=True)
    )
    assert not ModelBatch.objects.filter(run=finished, endpoint="critic").exists()
