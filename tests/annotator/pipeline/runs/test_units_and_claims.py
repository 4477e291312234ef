"""Scheduling rules: what a run plans, claims and chains; cancelling; restoring a dropped sample
(review.services.dropped_samples)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotator.models import CriticVerdict, PipelineRun, Sample, StageResult
from annotator.pipeline.config import EndpointConfig, GroundingConfig, PipelineConfig
from annotator.pipeline.runs.claim import claim_unit, take_unit
from annotator.pipeline.runs.config_store import config_from_json, config_to_json
from annotator.pipeline.runs.context import Computed, UnitContext
from annotator.pipeline.runs.execution import execute_unit, finish_unit
from annotator.pipeline.runs.local import LocalRunner
from annotator.pipeline.runs.stages import STAGE_FUNCTIONS, votes_and_verdict
from annotator.pipeline.runs.terminal import BarWriter, render_bar
from annotator.pipeline.runs.units import (
    ExistingUnit,
    RunSpec,
    UnitKey,
    chosen_for_spot_check,
    parse_stages,
    plan_sample,
)
from annotator.selectors.pipeline_runs import StageProgress, critic_inputs
from annotator.services.pipeline_runs import (
    RunNotStarted,
    cancel_pipeline_run,
    start_pipeline_run,
)
from annotator.services.verification import verify_sample
from review.models import AuditEvent
from review.services.dropped_samples import restore_dropped_sample
from tests.factories import ProposalFactory, RegionFactory, SampleFactory
from tests.support.pipeline_runs import make_pipeline_dataset

ENDPOINT = EndpointConfig(name="gpt4o", base_url="http://127.0.0.1:9/v1", model="gpt-4o")
CONFIG = PipelineConfig(
    annotators={"gpt4o": ENDPOINT, "gemini": EndpointConfig("gemini", ENDPOINT.base_url, "g")},
    critic=EndpointConfig("critic", ENDPOINT.base_url, "o4-mini"),
    grounding=GroundingConfig(config_path=Path("/m/c.py"), checkpoint=Path("/m/w.pth")),
    critic_agreed_share=0.1,
)
SPEC = RunSpec(
    stages=("annotate", "verify", "critic"),
    annotators=(("gpt4o", "annotate.v1"), ("gemini", "annotate.v1")),
    critic=("o4-mini", "critic.v1"),
    max_rounds=1,
)


def done(pk: int, verdict: str = "") -> ExistingUnit:
    return ExistingUnit(pk, "done", verdict=verdict)


def key(stage: str, model: str, round_: int = 0) -> UnitKey:
    version = {"annotate": "annotate.v1", "critic": "critic.v1"}.get(stage, "")
    return UnitKey(stage, model, version, round_)


ROUND_0 = {
    key("annotate", "gpt4o"): done(1),
    key("annotate", "gemini"): done(2),
    key("verify", "weighted-vote"): done(3),
}


# --- planning (pure) -------------------------------------------------------------------------


def test_a_new_sample_starts_with_all_its_annotators():
    plan = plan_sample(spec=SPEC, existing={})
    assert [k.stage for k in plan.create] == ["annotate", "annotate", "verify", "critic"]
    assert plan.start == [key("annotate", "gpt4o"), key("annotate", "gemini")]


def test_finished_work_is_skipped():
    existing = {**ROUND_0, key("critic", "o4-mini"): done(4, "preserve")}
    assert plan_sample(spec=SPEC, existing=existing).finished


def test_redoing_an_annotation_redoes_what_comes_after_it():
    existing = {
        **ROUND_0,
        key("annotate", "gemini"): ExistingUnit(2, "failed", "HTTP 500"),
        key("critic", "o4-mini"): done(4, "preserve"),
    }
    plan = plan_sample(spec=SPEC, existing=existing)
    assert plan.reset == [2, 3, 4] and plan.create == []
    assert plan.start == [key("annotate", "gemini")]  # gpt4o's finished annotation stays


def test_a_skip_caused_by_a_failure_is_redone_a_skip_by_choice_is_not():
    by_choice = {**ROUND_0, key("critic", "o4-mini"): ExistingUnit(4, "skipped")}
    assert plan_sample(spec=SPEC, existing=by_choice).finished
    failed = {**by_choice, key("critic", "o4-mini"): ExistingUnit(4, "skipped", "not run")}
    assert plan_sample(spec=SPEC, existing=failed).reset == [4]


def test_a_finished_revise_round_continues_with_the_next_round():
    existing = {**ROUND_0, key("critic", "o4-mini"): done(4, "revise")}
    plan = plan_sample(spec=SPEC, existing=existing)
    assert plan.create == [
        key("annotate", "gpt4o", 1),
        key("annotate", "gemini", 1),
        key("verify", "weighted-vote", 1),
        key("critic", "o4-mini", 1),
    ]
    no_more_rounds = RunSpec(**{**SPEC.__dict__, "max_rounds": 0})
    assert plan_sample(spec=no_more_rounds, existing=existing).finished


def test_stages_are_parsed_in_pipeline_order_and_checked():
    assert parse_stages("critic, annotate", config=CONFIG) == ["annotate", "critic"]
    assert parse_stages(None, config=CONFIG) == [
        "annotate", "calibrate", "ground", "verify", "critic",
    ]  # fmt: skip
    without_critic = PipelineConfig(annotators=CONFIG.annotators)
    assert "critic" not in parse_stages("", config=without_critic)
    with pytest.raises(ValueError, match="unknown stage 'anotate'"):
        parse_stages("anotate", config=CONFIG)
    with pytest.raises(ValueError, match=r"needs a \[critic\]"):
        parse_stages("critic", config=without_critic)


def test_the_spot_check_choice_is_stable_and_near_the_share():
    chosen = [i for i in range(10_000) if chosen_for_spot_check(sample_id=i, share=0.05)]
    assert 400 < len(chosen) < 600
    assert chosen == [i for i in range(10_000) if chosen_for_spot_check(sample_id=i, share=0.05)]
    assert not chosen_for_spot_check(sample_id=1, share=0.0)


def test_the_config_survives_its_json_round_trip():
    data = config_to_json(CONFIG)
    assert data["grounding"]["checkpoint"] == "/m/w.pth"
    assert config_from_json(data) == CONFIG


def test_bars_are_redrawn_in_place_on_a_terminal():
    progress = [StageProgress("annotate", pending=5, done=4, failed=1)]
    assert render_bar(progress[0], width=10).startswith("annotate  [#####-----]  50%  5/10")
    stream = io.StringIO()
    bars = BarWriter(stream, tty=True)
    bars.draw(progress)
    bars.draw(progress)  # unchanged: nothing written
    bars.draw([StageProgress("annotate", done=10)])
    text = stream.getvalue()
    assert text.count("annotate") == 2 and "\x1b[1F" in text and "100%" in text


# --- claiming and chaining --------------------------------------------------------------------


@pytest.fixture
def started(tmp_path, db):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2)
    return start_pipeline_run(dataset=dataset, config=CONFIG, stages="annotate,verify")


def test_a_unit_is_claimed_once(started):
    unit_id = started.report.start[0].id
    assert claim_unit(unit_id=unit_id, holder="w1@a:10:11") is not None
    assert claim_unit(unit_id=unit_id) is None  # a duplicate message finds it running
    taken = take_unit(unit_id=unit_id)  # ... held by a live process elsewhere: busy
    assert taken.unit is None and taken.busy_for is not None and taken.busy_for > 100
    # A claim known to be gone is retaken at once.
    assert claim_unit(unit_id=unit_id, takeover_from="w1@a:10:11") is not None
    assert StageResult.objects.get(pk=unit_id).attempts == 2


def test_a_unit_whose_lease_lapsed_is_retaken(started):
    unit_id = started.report.start[0].id
    lapsed = timezone.now() - timedelta(seconds=1)
    StageResult.objects.filter(pk=unit_id).update(
        status="running", claimed_by="w1@a:10:11", lease_until=lapsed
    )
    assert claim_unit(unit_id=unit_id) is not None


def loaded(pk: int) -> StageResult:
    return StageResult.objects.select_related("run", "sample__dataset__taxonomy").get(pk=pk)


def test_the_last_annotator_to_finish_starts_the_next_stage(started):
    sample_units = [ref for ref in started.report.start if ref.stage == "annotate"][:2]
    sample = StageResult.objects.get(pk=sample_units[0].id).sample
    assert {StageResult.objects.get(pk=r.id).sample_id for r in sample_units} == {sample.pk}
    for ref in sample_units:  # what each worker's transaction does once its reply is in
        claim_unit(unit_id=ref.id)
    first, second = (loaded(r.id) for r in sample_units)
    verify = StageResult.objects.get(sample=sample, stage="verify")
    assert finish_unit(UnitContext(first, CONFIG), Computed()) == ([], "done", True)
    verify.refresh_from_db()
    assert verify.status == "pending"  # gemini's annotation is still running
    assert finish_unit(UnitContext(second, CONFIG), Computed()) == ([], "done", False)
    verify.refresh_from_db()  # ... the last one ran verify in its own transaction
    assert (verify.status, verify.attempts, verify.output["status"]) == ("done", 1, "pending")


def test_a_failed_annotation_skips_the_rest_of_its_round(started):
    ref = started.report.start[0]
    claim_unit(unit_id=ref.id)
    unit = loaded(ref.id)
    assert finish_unit(UnitContext(unit, CONFIG), "HTTP 400: bad") == ([], "failed", True)
    sibling = StageResult.objects.get(sample=unit.sample, stage="annotate", status="pending")
    claim_unit(unit_id=sibling.pk)
    assert finish_unit(UnitContext(loaded(sibling.pk), CONFIG), Computed()) == ([], "done", False)
    verify = StageResult.objects.get(sample=unit.sample, stage="verify")
    assert (verify.status, verify.error) == ("skipped", "not run: annotate failed")


def test_a_cancelled_run_claims_nothing_and_a_new_run_resumes_it(started):
    assert cancel_pipeline_run(run=started.run)
    assert started.run.status == PipelineRun.Status.CANCELLED and started.run.cancel_requested
    assert execute_unit(unit_id=started.report.start[0].id).status == "idle"
    LocalRunner(run_id=started.run.pk).run(started.report.start)
    assert not StageResult.objects.exclude(status="pending").exists()
    assert not cancel_pipeline_run(run=started.run)  # ended already

    again = start_pipeline_run(dataset=started.run.dataset, config=CONFIG, stages="verify")
    assert again.report.reset == 2 and again.report.created == 0  # the pending units moved


def test_one_run_at_a_time_per_dataset(started):
    with pytest.raises(RunNotStarted, match=f"run {started.run.pk} is still running"):
        start_pipeline_run(dataset=started.run.dataset, config=CONFIG)


# --- restoring a dropped sample ---------------------------------------------------------------


def test_restoring_a_dropped_sample_overrules_the_drop(admin_user):
    sample = SampleFactory.create(status=Sample.Status.DROPPED)
    ProposalFactory.create(sample=sample, model_name="gpt4o", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="gemini", emotion="fear")
    CriticVerdict.objects.create(sample=sample, verdict="drop", round=1)

    restored = restore_dropped_sample(sample=sample, user=admin_user)

    assert restored.status == Sample.Status.DISPUTED  # what the vote says
    verdict = sample.verdicts.order_by("-id")[0]
    assert (verdict.verdict, verdict.model_name, verdict.round) == (
        "preserve", f"person:{admin_user.username}", 1,
    )  # fmt: skip
    event = AuditEvent.objects.get(sample=sample)
    assert event.before is not None
    assert (event.action, event.actor, event.before["status"]) == (
        "restore_dropped", admin_user, "dropped",
    )  # fmt: skip
    assert verify_sample(sample=restored).status == "disputed"  # re-verifying keeps it restored
    with pytest.raises(ValidationError, match="not dropped"):
        restore_dropped_sample(sample=restored, user=admin_user)


def test_votes_and_the_latest_verdict_come_in_one_read(db):
    sample = SampleFactory.create()
    assert votes_and_verdict(sample_id=sample.pk) == ([], ("", "", ""))
    CriticVerdict.objects.create(sample=sample, verdict="revise", emotion="awe", round=0)
    CriticVerdict.objects.create(
        sample=sample, verdict="drop", emotion="", round=1, model_name="critic-x"
    )
    assert votes_and_verdict(sample_id=sample.pk) == ([], ("drop", "", "critic-x"))
    ProposalFactory.create(sample=sample, model_name="gpt4o", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="gemini", emotion="fear")
    votes, verdict = votes_and_verdict(sample_id=sample.pk)
    assert [(v.model_name, v.emotion) for v in votes] == [("gpt4o", "awe"), ("gemini", "fear")]
    assert verdict == ("drop", "", "critic-x") and verdict.restorer() == ""


def test_the_critic_sees_every_proposal_and_box(db):
    sample = SampleFactory.create()
    ProposalFactory.create(sample=sample, model_name="gpt4o", emotion="awe", confidence=7.0)
    ProposalFactory.create(
        sample=sample, model_name="emovit", emotion="fear", distribution={"fear": 1.0}
    )
    RegionFactory.create(sample=sample, phrase="person", score=0.5)
    RegionFactory.create(sample=sample, x1=None, y1=None, x2=None, y2=None)  # no box: left out
    proposals, grounding = critic_inputs(sample_id=sample.pk)
    assert [(p["model"], p["emotion"], p.get("distribution")) for p in proposals] == [
        ("emovit", "fear", {"fear": 1.0}),
        ("gpt4o", "awe", None),
    ]
    assert proposals[1]["confidence"] == 7.0 and proposals[1]["subject"] == "person"
    assert grounding == [
        {"role": "subject", "phrase": "person", "box": [4.0, 4.0, 40.0, 40.0], "score": 0.5}
    ]


def test_a_result_the_database_refuses_fails_the_unit_not_the_run(started, monkeypatch):
    def refused(ctx):
        def write(round_units):
            raise ValueError("value too long for type character varying(64)")

        return Computed(output={"emotion": "x" * 80}, write=write)

    monkeypatch.setitem(STAGE_FUNCTIONS, "annotate", refused)
    ref = started.report.start[0]
    assert execute_unit(unit_id=ref.id).status == "failed"
    unit = StageResult.objects.get(pk=ref.id)
    assert unit.status == "failed"
    assert (
        unit.error
        == "result not recorded: ValueError: value too long for type character varying(64)"
    )
