"""Costs, the budget stop and the estimate, with runs in-process against the loopback server
(every reply reports 120 input and 40 output tokens)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

pytest.importorskip("openai")

from annotator.models import PipelineRun, StageResult
from annotator.pipeline import costs
from annotator.pipeline.config import EndpointConfig, load_pipeline_config
from annotator.pipeline.runs import budget
from annotator.pipeline.runs.terminal import render_spend
from annotator.selectors.run_costs import run_spend
from annotator.services.pipeline_runs import run_pipeline_in_process, start_pipeline_run
from tests.factories import AdminFactory
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

pytestmark = [pytest.mark.ml, pytest.mark.django_db]

IN_PRICE, OUT_PRICE = 2.5, 10.0  # dollars per million tokens
CALL = (120 * IN_PRICE + 40 * OUT_PRICE) / 1_000_000  # one loopback call


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


def priced_config(tmp_path, server, *, prices=(IN_PRICE, OUT_PRICE), **pipeline):
    path = write_config(tmp_path / "pipeline.toml", base_url=server.base_url, pipeline=pipeline)
    text = path.read_text().replace(
        "[defaults]\n",
        f"[defaults]\ninput_price_per_mtok = {prices[0]}\noutput_price_per_mtok = {prices[1]}\n",
    )
    path.write_text(text)
    return path


def run(dataset, path, **options) -> PipelineRun:
    config = load_pipeline_config(path=path)
    started = start_pipeline_run(dataset=dataset, config=config, **options)
    return run_pipeline_in_process(started=started)


def test_call_cost_needs_both_prices_and_counts():
    endpoint = EndpointConfig(
        name="a", base_url="http://x/v1", model="m", input_price_per_mtok=2, output_price_per_mtok=8
    )
    assert costs.call_cost(endpoint=endpoint, input_tokens=1_000_000, output_tokens=500_000) == 6
    assert costs.call_cost(endpoint=endpoint, input_tokens=None, output_tokens=5) is None
    unpriced = EndpointConfig(name="a", base_url="http://x/v1", model="m")
    assert costs.call_cost(endpoint=unpriced, input_tokens=1, output_tokens=1) is None
    assert costs.money(None) == "unknown" and costs.money(1234.5) == "$1,234.50"


def test_a_run_records_tokens_and_its_spend(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=3)
    finished = run(dataset, priced_config(tmp_path, server))
    calls = len(server.requests)
    assert calls > 6  # two annotators x 3 samples, the critic, a revise round
    model_units = StageResult.objects.filter(run=finished, stage__in=["annotate", "critic"])
    assert model_units.filter(status="done").count() == calls
    assert set(model_units.filter(status="done").values_list("input_tokens", flat=True)) == {120}
    spend = run_spend(run=finished)
    assert spend.tokens == (120 * calls, 40 * calls)
    assert spend.cost == pytest.approx(CALL * calls)
    assert spend.priced and spend.estimate_rest == 0 and not spend.budget_reached
    (line,) = render_spend(spend)
    assert line.startswith(f"spend {costs.money(CALL * calls)} ({calls} calls, ")
    assert "rest about $0" in line


def test_the_rest_is_estimated_from_the_mean_so_far():
    spend = costs.RunSpend(
        models=(
            costs.ModelSpend("annotate", "a", 4, 400, 100, 6, 0.8, 0.2),
            costs.ModelSpend("critic", "c", 1, 100, 10, 3, 0.5, 0.5),
        ),
        budget=1.0,
    )
    assert spend.cost == pytest.approx(1.3) and spend.budget_reached
    assert spend.estimate_rest == pytest.approx(6 * 0.2 + 3 * 0.5)
    lines = render_spend(spend)
    assert lines[0].endswith("rest about $2.70; budget $1.00")
    assert lines[1].startswith("budget reached: no new model calls are sent")
    unknown = costs.RunSpend(
        models=(costs.ModelSpend("critic", "c", 0, 0, 0, 3, None, None),), budget=None
    )
    assert unknown.estimate_rest is None  # no call yet: no mean to go by


def test_the_budget_stops_new_calls_and_says_so(tmp_path, server, monkeypatch, client):
    monkeypatch.setattr(budget, "CHECK_EVERY_S", 0.0)  # read the spend before every call
    dataset = make_pipeline_dataset(tmp_path / "images", count=3)
    # Each call costs $1.20 (120 input tokens at $10,000 per million): $3 buys three calls.
    path = priced_config(tmp_path, server, prices=(10_000, 0), budget=3)
    finished = run(dataset, path, stages="annotate")
    assert len(server.requests) == 3
    failed = StageResult.objects.filter(run=finished, status="failed")
    assert failed.count() == 3
    assert all(
        e.startswith("budget reached: $3.60 spent of the run's $3.00; not sent")
        for e in failed.values_list("error", flat=True)
    )
    spend = run_spend(run=finished)
    assert spend.budget_reached and spend.cost == pytest.approx(3.6)
    client.force_login(AdminFactory())
    html = client.get(reverse("review:run_progress", args=[finished.pk])).content.decode()
    assert 'id="run-budget-reached"' in html and "Spent <strong>$3.60</strong>" in html
    assert "Budget $3.00" in html


def test_estimate_prints_calls_tokens_and_cost_and_sends_nothing(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=4)
    path = priced_config(tmp_path, server)
    out = io.StringIO()
    call_command(
        "run_pipeline", "--dataset", dataset.name, "--config", str(path), "--estimate",
        "--disputed-share", "0.5", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert server.requests == [] and not PipelineRun.objects.exists()
    rows = {
        line.split()[1]: line.split()
        for line in text.splitlines()
        if line.startswith(("annotate", "critic"))
    }
    assert rows["gpt4o"][2] == "4" and rows["gemini"][2] == "4" and rows["critic-model"][2] == "2"
    assert rows["gpt4o"][-1] == "configured"
    tokens_in, tokens_out = (
        int(rows["gpt4o"][3].replace(",", "")),
        int(rows["gpt4o"][4].replace(",", "")),
    )
    assert tokens_out == 4 * 500  # the configured mean reply size
    assert tokens_in > 4 * costs.IMAGE_TOKENS  # the prompt text counts too
    assert rows["gpt4o"][5] == costs.money((tokens_in * IN_PRICE + tokens_out * OUT_PRICE) / 1e6)
    assert "total" in text and "nothing was sent" in text


def test_estimate_uses_observed_reply_sizes_and_skips_finished_work(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=4)
    path = priced_config(tmp_path, server)
    run(dataset, path, limit=2)  # every stage: samples 0 and 1 are finished
    out = io.StringIO()
    call_command(
        "run_pipeline", "--dataset", dataset.name, "--config", str(path), "--estimate",
        "--disputed-share", "0.5", stdout=out,
    )  # fmt: skip
    rows = {
        line.split()[1]: line.split()
        for line in out.getvalue().splitlines()
        if line.startswith(("annotate", "critic"))
    }
    assert rows["critic-model"][2] == "1"  # samples 2 and 3 are left, half of them disputed
    out = io.StringIO()
    call_command(
        "run_pipeline", "--dataset", dataset.name, "--config", str(path), "--estimate",
        "--stages", "annotate", stdout=out,
    )  # fmt: skip
    rows = {
        line.split()[1]: line.split()
        for line in out.getvalue().splitlines()
        if line.startswith("annotate")
    }
    assert rows["gpt4o"][2] == "2"  # two samples were annotated already
    assert rows["gpt4o"][4] == "80" and rows["gpt4o"][-1] == "observed"  # 40 tokens a reply


@pytest.mark.django_db
def test_a_run_stored_without_a_config_has_no_spend():
    """Runs created without a config (older rows, fixtures) broke the run page: KeyError."""
    from tests.factories import DatasetFactory

    run = PipelineRun.objects.create(dataset=DatasetFactory.create(), config={})
    spend = run_spend(run=run)
    assert (spend.models, spend.budget) == ((), None)
