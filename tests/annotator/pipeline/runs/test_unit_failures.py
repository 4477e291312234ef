"""Model failures during a run: repaired, retried (honouring Retry-After) or recorded per sample.

The in-process runner's clock and sleep are replaced by a fake that only counts, so a retry's
wait is asserted without being waited; the HTTP traffic is real (loopback server, openai client).
"""

from __future__ import annotations

import pytest

pytest.importorskip("openai")

from annotator.models import PipelineRun, Proposal, Sample, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.pipeline.runs.local import LocalRunner
from annotator.services.pipeline_runs import start_pipeline_run
from tests.support.openai_server import (
    OpenAIServer,
    error,
    malformed,
    rate_limited,
    server_error,
    slow,
)
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


def run_with_fake_time(
    tmp_path, server, *, count=1, stages="annotate,verify", dataset=None, **options
):
    if dataset is None:
        dataset = make_pipeline_dataset(tmp_path / "images", count=count, boxes=False)
    path = write_config(
        tmp_path / "pipeline.toml", base_url=server.base_url, annotators=("gpt4o",), **options
    )
    started = start_pipeline_run(
        dataset=dataset, config=load_pipeline_config(path=path), stages=stages
    )
    fake = FakeTime()
    LocalRunner(run_id=started.run.pk, sleep=fake.sleep, clock=fake.clock).run(started.report.start)
    started.run.refresh_from_db()
    return started.run, fake


def annotate_unit(sample_id: str = "img-0000") -> StageResult:
    return StageResult.objects.get(sample__external_id=sample_id, stage="annotate")


def test_a_malformed_reply_is_repaired_once(tmp_path, server):
    server.enqueue(malformed())
    run, _ = run_with_fake_time(tmp_path, server)
    unit = annotate_unit()
    assert (unit.status, unit.attempts, unit.output["repaired"]) == ("done", 1, True)
    assert (unit.input_tokens, unit.output_tokens) == (240, 80)  # both requests counted
    repair = server.requests[1].body["messages"][-1]
    assert repair["role"] == "user" and "not valid JSON" in str(repair["content"])
    assert run.status == PipelineRun.Status.DONE


def test_an_unrepairable_reply_fails_its_sample_and_the_run_goes_on(tmp_path, server):
    server.enqueue(malformed(), malformed())
    run, _ = run_with_fake_time(tmp_path, server, count=2)
    failed = annotate_unit("img-0000")
    assert failed.status == "failed" and "still invalid after one repair" in failed.error
    verify = StageResult.objects.get(sample=failed.sample, stage="verify")
    assert (verify.status, verify.error) == ("skipped", "not run: annotate failed")
    assert annotate_unit("img-0001").status == "done"
    assert Sample.objects.get(external_id="img-0001").status == "agreed"
    assert run.status == PipelineRun.Status.DONE

    # Running again retries the failure (and what it held up), nothing else.
    before = len(server.requests)
    again = start_pipeline_run(
        dataset=run.dataset, config=_config(tmp_path), stages="annotate,verify"
    )
    assert again.report.units == 2 and again.report.finished_samples == 1
    LocalRunner(run_id=again.run.pk).run(again.report.start)
    assert len(server.requests) == before + 1
    assert annotate_unit("img-0000").status == "done"


def _config(tmp_path):
    return load_pipeline_config(path=tmp_path / "pipeline.toml")


def test_429_is_retried_after_its_retry_after(tmp_path, server):
    server.enqueue(rate_limited(retry_after="7"))
    run, fake = run_with_fake_time(tmp_path, server)
    unit = annotate_unit()
    assert (unit.status, unit.attempts, unit.error) == ("done", 2, "")
    assert fake.slept == pytest.approx(7.0, abs=0.25)  # the runner waited what the server asked
    assert len(server.requests) == 2 and run.status == PipelineRun.Status.DONE


def test_500_is_retried_with_backoff(tmp_path, server):
    server.enqueue(server_error(500), server_error(503))
    _, fake = run_with_fake_time(tmp_path, server)
    unit = annotate_unit()
    assert (unit.status, unit.attempts) == ("done", 3)
    assert 0.5 + 1.0 <= fake.slept <= 1.0 + 2.0  # 1 s then 2 s, each with up to half jitter


def test_a_unit_fails_after_max_retries(tmp_path, server):
    server.enqueue(*[server_error(502)] * 3)
    run, _ = run_with_fake_time(tmp_path, server, max_retries=1)
    unit = annotate_unit()
    assert (unit.status, unit.attempts) == ("failed", 2)
    assert unit.error.startswith("gave up after 2 attempts: HTTP 502")
    assert len(server.requests) == 2 and run.status == PipelineRun.Status.DONE


def test_a_slow_reply_past_the_timeout_is_retried(tmp_path, server):
    server.enqueue(slow(5.0))
    _, fake = run_with_fake_time(tmp_path, server, timeout_s=0.5)
    unit = annotate_unit()
    assert (unit.status, unit.attempts) == ("done", 2)
    assert Proposal.objects.get(sample=unit.sample).emotion == "awe"
    assert fake.slept > 0


def test_a_client_error_is_permanent(tmp_path, server):
    server.enqueue(error(401, "Invalid API key."))
    _, fake = run_with_fake_time(tmp_path, server)
    unit = annotate_unit()
    assert (unit.status, unit.attempts) == ("failed", 1)
    assert unit.error.startswith("HTTP 401") and "Invalid API key." in unit.error
    assert fake.slept == 0


def test_a_missing_image_fails_that_sample_only(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2, boxes=False)
    (tmp_path / "images" / "img-0001.png").unlink()
    run, _ = run_with_fake_time(tmp_path, server, dataset=dataset)
    unit = annotate_unit("img-0001")
    assert unit.status == "failed" and "img-0001.png not found" in unit.error
    assert annotate_unit("img-0000").status == "done"
    assert run.status == PipelineRun.Status.DONE
