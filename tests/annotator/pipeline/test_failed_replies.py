"""A reply that fails keeps its raw text on its unit (issue 13 §4: every reply keeps its raw
text), and a partial critic reply keeps its verdict through a whole run."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")

from annotator.models import CriticVerdict, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.selectors.run_costs import run_spend
from annotator.services.pipeline_runs import run_pipeline_in_process, start_pipeline_run
from tests.support.openai_server import OpenAIServer, critic_content, malformed
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_an_unrepairable_reply_is_kept_on_its_failed_unit(tmp_path):
    with OpenAIServer(default=ScriptedModels()) as server:
        dataset = make_pipeline_dataset(tmp_path / "images", count=1)
        config = load_pipeline_config(
            path=write_config(tmp_path / "p.toml", base_url=server.base_url)
        )
        server.enqueue(malformed("not json"), malformed("still not json"))
        started = start_pipeline_run(dataset=dataset, config=config, stages="annotate")
        run_pipeline_in_process(started=started)
    failed = StageResult.objects.get(status="failed")
    assert "still invalid after one repair" in failed.error
    assert failed.output == {"reply": "still not json"}
    assert (failed.input_tokens, failed.output_tokens) == (240, 80)  # both replies, paid for
    spend = run_spend(run=started.run)
    assert spend.tokens == (360, 120)  # the other annotator's good reply, and these two
    assert sum(m.calls for m in spend.models) == 2


def test_a_critic_reply_without_checks_keeps_its_verdict_in_a_run(tmp_path):
    partial = critic_content(verdict="preserve", instructions="")
    del partial["checks"]

    def verdict(index: int, round_: int) -> dict:
        return partial

    with OpenAIServer(default=ScriptedModels(verdict=verdict)) as server:
        dataset = make_pipeline_dataset(tmp_path / "images", count=2)  # sample 1 is disputed
        config = load_pipeline_config(
            path=write_config(tmp_path / "p.toml", base_url=server.base_url)
        )
        run_pipeline_in_process(started=start_pipeline_run(dataset=dataset, config=config))
        critic_requests = [r for r in server.requests if "critic" in str(r.body.get("model"))]
    (kept,) = CriticVerdict.objects.all()
    assert (kept.verdict, kept.emotion) == ("preserve", "awe")
    assert set(kept.checks.values()) == {None}  # not given, shown as such
    assert len(critic_requests) == 1  # no repair was asked for
    unit = StageResult.objects.get(stage="critic", status="done")
    assert unit.output["verdict"] == "preserve"
