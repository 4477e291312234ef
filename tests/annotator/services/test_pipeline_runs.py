"""A whole run in-process: the real openai client against a loopback server, GrabCut masks.

Sample k's image is k pixels wider than the base, so ScriptedModels knows which sample a request
is about: gpt4o says awe; gemini agrees on every third sample, else says fear; the critic drops
every fifth sample from 1, asks to revise every fifth from 2 (once), and preserves the rest.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("openai")

from annotator.lib.rle import mask_area, mask_bbox
from annotator.models import CriticVerdict, PipelineRun, Proposal, Region, Sample, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.pipeline.runs.units import chosen_for_spot_check
from annotator.selectors.pipeline_runs import run_progress
from annotator.services.pipeline_runs import run_pipeline_in_process, start_pipeline_run
from review.services.dropped_samples import restore_dropped_sample
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import (
    BASE_WIDTH,
    ScriptedModels,
    make_pipeline_dataset,
    sample_index,
    sent_width,
    write_config,
)

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture
def models() -> ScriptedModels:
    return ScriptedModels()


@pytest.fixture
def server(models):
    with OpenAIServer(default=models) as running:
        yield running


@pytest.fixture
def five(tmp_path):
    """Sample 0 and 3 agreed, 1 dropped, 2 revised, 4 preserved."""
    return make_pipeline_dataset(tmp_path / "images", count=5)


def config_for(tmp_path, server, **options):
    return load_pipeline_config(
        path=write_config(tmp_path / "pipeline.toml", base_url=server.base_url, **options)
    )


def run(dataset, config, **options) -> PipelineRun:
    started = start_pipeline_run(dataset=dataset, config=config, **options)
    return run_pipeline_in_process(started=started)


def expected_status(index: int) -> str:
    if index % 3 == 0:
        return "agreed"  # the critic never sees it (no spot-check share)
    if index % 5 == 1:
        return "dropped"
    if index % 5 == 2:
        return "agreed"  # revised: both annotators now say awe
    return "disputed"  # the critic preserved it: people see its emotion


def test_a_run_takes_every_sample_through_every_stage(tmp_path, server, five):
    finished = run(five, config_for(tmp_path, server))

    assert finished.status == PipelineRun.Status.DONE and finished.finished_at is not None
    assert not finished.results.exclude(status__in=["done", "skipped"]).exists()
    for sample in Sample.objects.filter(dataset=five):
        index = sample_index(sample.external_id)
        assert sample.status == expected_status(index), sample.external_id
        if sample.status != "dropped":  # a drop keeps the vote's suggestion
            assert sample.suggested_emotion == "awe"
    progress = {p.stage: p for p in run_progress(run_id=finished.pk)}
    assert progress["annotate"].done == 2 * 5 + 2  # sample 2 was revised once
    assert progress["calibrate"].skipped == 5  # no classifier predictions were imported
    assert progress["ground"].done == 5 and progress["verify"].done == 6


def test_annotations_record_reply_tokens_latency_prompt_and_model(tmp_path, server, five):
    run(five, config_for(tmp_path, server))
    proposal = Proposal.objects.get(sample__external_id="img-0004", model_name="gemini")
    assert (proposal.emotion, proposal.prompt_version) == ("fear", "annotate.v1")
    assert proposal.raw["model"] == "gemini-model" and proposal.raw["input_tokens"] == 120
    assert json.loads(proposal.raw["reply"])["emotion"] == "fear"
    unit = StageResult.objects.get(
        sample=proposal.sample, stage="annotate", model_name="gemini", round=0
    )
    assert (unit.prompt_version, unit.input_tokens, unit.output_tokens) == ("annotate.v1", 120, 40)
    assert unit.latency_ms is not None and unit.latency_ms > 0 and unit.attempts == 1
    assert json.loads(unit.output["reply"])["emotion"] == "fear"


def test_the_ground_stage_masks_the_imported_boxes(tmp_path, server, five):
    run(five, config_for(tmp_path, server))
    regions = Region.objects.filter(sample__dataset=five)
    assert regions.count() == 5  # masked in place, none added
    for region in regions.select_related("sample"):
        assert (region.origin, region.segmenter) == ("import", "grabcut")
        assert region.mask is not None
        assert region.mask["size"] == [region.sample.height, region.sample.width]
        assert 0 < mask_area(region.mask) < region.sample.height * region.sample.width


def test_the_critic_sees_disputed_samples_with_proposals_and_grounding(tmp_path, server, five):
    run(five, config_for(tmp_path, server))
    critic_requests = [r for r in server.requests if r.body["model"] == "critic-model"]
    judged = {
        sample_index(s) for s in CriticVerdict.objects.values_list("sample__external_id", flat=True)
    }
    assert judged == {1, 2, 4}
    assert len(critic_requests) == len(judged)
    user_text = critic_requests[0].body["messages"][1]["content"][0]["text"]
    assert '"model": "gemini"' in user_text and '"role": "subject"' in user_text
    verdict = CriticVerdict.objects.get(sample__external_id="img-0004")
    assert (verdict.verdict, verdict.emotion, verdict.round) == ("preserve", "awe", 0)
    assert (verdict.model_name, verdict.prompt_version) == ("critic-model", "critic.v1")
    assert verdict.reasoning.startswith("The proposals disagree")


def test_a_revise_verdict_reannotates_with_its_instructions(tmp_path, server, five):
    run(five, config_for(tmp_path, server))
    sample = Sample.objects.get(external_id="img-0002")
    verdict = CriticVerdict.objects.get(sample=sample)
    assert (verdict.verdict, verdict.round) == ("revise", 0)
    round_one = StageResult.objects.filter(sample=sample, round=1)
    assert sorted(round_one.values_list("stage", "status")) == [
        ("annotate", "done"),
        ("annotate", "done"),
        ("critic", "skipped"),  # now agreed: not sent to the critic
        ("verify", "done"),
    ]
    revised = [
        r
        for r in server.requests
        if sent_width(r.body) == BASE_WIDTH + 2
        and "Follow these instructions from a reviewer" in json.dumps(r.body["messages"])
    ]
    assert sorted(r.body["model"] for r in revised) == ["gemini-model", "gpt4o-model"]
    assert verdict.instructions in json.dumps(revised[0].body["messages"])


def test_still_disputed_after_revising_goes_to_the_critic_again(tmp_path, five):
    never_agree = ScriptedModels(
        emotion=lambda index, model, revised: "awe" if "gpt" in model else "fear"
    )
    with OpenAIServer(default=never_agree) as server:
        run(five, config_for(tmp_path, server))
    sample = Sample.objects.get(external_id="img-0002")
    verdicts = list(sample.verdicts.order_by("round").values_list("verdict", "round"))
    assert verdicts == [("revise", 0), ("preserve", 1)]
    assert StageResult.objects.get(sample=sample, stage="critic", round=1).status == "done"
    assert (sample.status, sample.suggested_emotion) == ("disputed", "awe")


def test_no_revise_round_when_max_revise_rounds_is_zero(tmp_path, server, five):
    run(five, config_for(tmp_path, server, pipeline={"max_revise_rounds": 0}))
    assert not StageResult.objects.filter(round__gt=0).exists()
    assert Sample.objects.get(external_id="img-0002").status == "disputed"


def test_an_agreed_share_goes_to_the_critic_chosen_by_sample_id(tmp_path, server, five):
    run(five, config_for(tmp_path, server, pipeline={"critic_agreed_share": 0.5}))
    agreed = Sample.objects.filter(dataset=five, external_id__in=["img-0000", "img-0003"])
    for sample in agreed:
        unit = StageResult.objects.get(sample=sample, stage="critic", round=0)
        chosen = chosen_for_spot_check(sample_id=sample.pk, share=0.5)
        assert unit.status == ("done" if chosen else "skipped"), sample.external_id


def test_running_again_skips_finished_work(tmp_path, server, five):
    config = config_for(tmp_path, server)
    run(five, config)
    requests = len(server.requests)
    started = start_pipeline_run(dataset=five, config=config)
    assert started.report.units == 0 and started.report.finished_samples == 5
    assert started.run.status == PipelineRun.Status.DONE
    assert len(server.requests) == requests


def test_a_new_annotator_redoes_only_what_depends_on_it(tmp_path, server, five):
    run(five, config_for(tmp_path, server))
    before = len(server.requests)
    bigger = config_for(tmp_path, server, annotators=("gpt4o", "gemini", "qwen"))
    again = run(five, bigger)
    new = server.requests[before:]
    annotate_models = sorted({r.body["model"] for r in new if r.body["model"] != "critic-model"})
    assert annotate_models == ["qwen-model"]  # gpt4o and gemini are not asked again
    assert again.results.filter(stage="verify").count() >= 5  # every vote was counted again
    assert Proposal.objects.filter(model_name="qwen").count() == 5


def test_limit_takes_the_first_samples_and_a_later_run_the_rest(tmp_path, server, five):
    config = config_for(tmp_path, server)
    first = run(five, config, limit=2)
    assert first.limit == 2
    assert set(first.results.values_list("sample__external_id", flat=True)) == {
        "img-0000",
        "img-0001",
    }
    second = start_pipeline_run(dataset=five, config=config)
    assert second.report.finished_samples == 2 and second.report.samples == 5


def test_only_the_chosen_stages_run(tmp_path, server, five):
    finished = run(five, config_for(tmp_path, server), stages="annotate,verify")
    assert sorted(set(finished.results.values_list("stage", flat=True))) == ["annotate", "verify"]
    assert not Region.objects.filter(mask__isnull=False).exists()
    assert not CriticVerdict.objects.exists()
    assert Sample.objects.get(external_id="img-0004").status == "disputed"


def test_calibrate_stores_the_imported_prediction_on_the_classifier_proposal(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2, classifier=True)
    run(dataset, config_for(tmp_path, server), stages="annotate,calibrate,verify")
    proposal = Proposal.objects.get(sample__external_id="img-0001", model_name="emovit")
    assert proposal.distribution == {"awe": 0.7, "fear": 0.3}
    unit = StageResult.objects.get(sample=proposal.sample, stage="calibrate")
    assert (unit.status, unit.output["emotion"]) == ("done", "awe")
    assert not Proposal.objects.filter(model_name="classifier").exists()
    sample = proposal.sample
    sample.refresh_from_db()
    assert sample.dispute_reasons[0]["models"] == {
        "emovit": "awe",
        "gemini": "fear",
        "gpt4o": "awe",
    }


def test_a_prediction_in_a_raw_record_gets_a_classifier_proposal(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=1)
    sample = dataset.samples.get()
    Proposal.objects.create(sample=sample, model_name="emoverse", emotion="fear",
                            raw={"distribution": {"Fear": 3, "sadness": 1}})  # fmt: skip
    run(dataset, config_for(tmp_path, server), stages="calibrate")
    row = Proposal.objects.get(sample=sample, model_name="classifier")
    assert (row.emotion, row.distribution) == ("fear", {"fear": 0.75, "sadness": 0.25})


def test_weights_from_the_config_count_in_the_vote(tmp_path, server, five):
    run(five, config_for(tmp_path, server), stages="annotate,verify")
    five.refresh_from_db()
    assert five.model_weights == {"gpt4o": 1.0, "gemini": 1.1}
    sample = Sample.objects.get(external_id="img-0004")  # gpt4o awe (1.0) vs gemini fear (1.1)
    assert (sample.status, sample.suggested_emotion) == ("disputed", "fear")


def test_the_ground_stage_segments_a_bounded_copy_and_masks_at_full_size(
    tmp_path, server, five, settings, monkeypatch
):
    from annotator.adapters.segmenters.grabcut import GrabCutSegmenter

    settings.MASK_WORK_MAX_SIDE = 24  # the test images are larger: every one is reduced
    seen: list[tuple[int, ...]] = []
    segment = GrabCutSegmenter.segment

    def recording(self, *, image, **kwargs):  # the real GrabCut, noting what it was given
        seen.append(image.shape)
        return segment(self, image=image, **kwargs)

    monkeypatch.setattr(GrabCutSegmenter, "segment", recording)
    run(five, config_for(tmp_path, server))
    assert len(seen) == 5 and all(max(shape[:2]) <= 24 for shape in seen)
    for region in Region.objects.filter(sample__dataset=five).select_related("sample"):
        sample = region.sample
        assert max(sample.width, sample.height) > 24
        assert region.mask is not None and region.mask["size"] == [sample.height, sample.width]
        x, y, w, h = mask_bbox(region.mask)
        assert region.box is not None
        x1, y1, x2, y2 = region.box
        slack = max(sample.width, sample.height) / 24 + 1  # one working pixel, scaled back
        assert w > 0 and x1 - slack <= x and x + w <= x2 + slack
        assert h > 0 and y1 - slack <= y and y + h <= y2 + slack


def test_a_new_run_leaves_a_restored_sample_to_the_person_who_restored_it(
    tmp_path, server, five, models, admin_user
):
    run(five, config_for(tmp_path, server))
    dropped = Sample.objects.get(dataset=five, status="dropped")
    restored = restore_dropped_sample(sample=dropped, user=admin_user)
    assert restored.status == "disputed"
    critic_calls = sum(models.critic_calls.values())

    # A third annotator: every sample is voted and judged again; the critic would drop it again.
    second = run(five, config_for(tmp_path, server, annotators=("gpt4o", "gemini", "qwen")))
    restored.refresh_from_db()
    assert restored.status == "disputed"
    unit = second.results.get(sample=restored, stage="critic")
    reason = f"restored by {admin_user.username}: their verdict stands"
    assert (unit.status, unit.output) == ("skipped", {"reason": reason})
    latest = restored.verdicts.order_by("-created_at", "-id")[0]
    assert latest.model_name == f"person:{admin_user.username}"
    assert sum(models.critic_calls.values()) > critic_calls  # the other disputed ones: judged
