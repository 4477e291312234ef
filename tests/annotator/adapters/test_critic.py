"""The critic adapter against a loopback OpenAI-compatible server, through the real client."""

from __future__ import annotations

import json

import pytest
from PIL import Image

pytest.importorskip("openai")

from annotator.adapters.critic import CriticAgent, get_critic
from annotator.adapters.images import image_cache
from annotator.adapters.vlm import VlmAnnotator
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.errors import PermanentModelError, TransientModelError
from annotator.taxonomy import MIKELS_8_LABELS as LABELS
from tests.support.openai_server import (
    OpenAIServer,
    annotation_content,
    critic_content,
    rate_limited,
    reply,
)

pytestmark = pytest.mark.ml

PROPOSALS = [
    {"model": "gpt4o", "emotion": "awe", "confidence": 7, "subject": "person"},
    {"model": "gemini", "emotion": "fear", "confidence": 4, "subject": "person"},
]
GROUNDING = [{"role": "subject", "phrase": "person", "box": [10, 20, 110, 220], "score": 0.61}]


@pytest.fixture
def server():
    with OpenAIServer() as running:
        yield running


def critic(server: OpenAIServer) -> CriticAgent:
    config = EndpointConfig(name="critic", base_url=server.base_url, model="o4-mini-test")
    return CriticAgent(config=config)


def judge(agent: CriticAgent):
    image = Image.new("RGB", (640, 480), "white")
    return agent.judge(image=image, proposals=PROPOSALS, grounding=GROUNDING, labels=LABELS)


def test_a_revise_verdict_is_parsed_with_checks_and_instructions(server):
    server.enqueue(reply(critic_content()))
    verdict = judge(critic(server))
    assert (verdict.verdict, verdict.emotion) == ("revise", "awe")
    assert verdict.checks == {
        "emotion_consistent": False,
        "triplet_grounded": True,
        "box_matches_subject": True,
        "confidence_plausible": True,
    }
    assert verdict.instructions.startswith("Look again at the person's posture")
    assert verdict.reasoning.startswith("The proposals disagree")
    assert (verdict.prompt_version, verdict.model, verdict.endpoint) == (
        "critic.v1",
        "o4-mini-test",
        "critic",
    )
    fields = verdict.verdict_fields()
    assert (fields["verdict"], fields["prompt_version"], fields["model_name"]) == (
        "revise",
        "critic.v1",
        "o4-mini-test",
    )


def test_the_critic_sees_the_image_every_proposal_and_the_grounding(server):
    server.enqueue(reply(critic_content(verdict="preserve")))
    assert judge(critic(server)).verdict == "preserve"
    (request,) = server.requests
    assert request.image_urls()[0].startswith("data:image/jpeg;base64,")
    text = request.body["messages"][1]["content"][0]["text"]
    assert "640 x 480 pixels" in text
    assert json.dumps(PROPOSALS[1], indent=1).splitlines()[1] in text
    assert '"phrase": "person"' in text and "0.61" in text
    format_ = request.body["response_format"]["json_schema"]
    assert format_["name"] == "critic_verdict"
    assert next(iter(format_["schema"]["properties"])) == "reasoning"


def test_an_invalid_verdict_is_repaired_once_then_permanent(server):
    server.enqueue(
        reply(critic_content(verdict="preserve", emotion="joy")),
        reply(critic_content(verdict="drop", emotion="", instructions="")),
    )
    verdict = judge(critic(server))
    assert (verdict.verdict, verdict.emotion, verdict.repaired) == ("drop", "", True)
    assert '"emotion" must be one of' in server.requests[1].body["messages"][-1]["content"]

    broken = critic_content(reasoning="")
    server.enqueue(reply(broken), reply(broken))
    with pytest.raises(
        PermanentModelError, match='"reasoning" must be a non-empty string'
    ) as caught:
        judge(critic(server))
    assert caught.value.raw == json.dumps(broken)  # the reply is kept, even when it failed


def test_a_verdict_with_some_checks_is_kept_without_a_repair(server):
    partial = critic_content(verdict="preserve", instructions=None)
    partial["checks"] = {"emotion_consistent": True, "box_matches_subject": False}
    server.enqueue(reply(partial))
    verdict = judge(critic(server))
    assert len(server.requests) == 1  # no repair asked for optional fields
    assert (verdict.verdict, verdict.emotion, verdict.repaired) == ("preserve", "awe", False)
    assert verdict.checks == {
        "emotion_consistent": True,
        "triplet_grounded": None,
        "box_matches_subject": False,
        "confidence_plausible": None,
    }
    assert list(verdict.unknown) == ["checks.triplet_grounded", "checks.confidence_plausible"]
    assert verdict.raw == json.dumps(partial)
    assert verdict.verdict_fields()["checks"]["triplet_grounded"] is None


def test_a_repaired_verdict_keeps_both_replies(server):
    first = critic_content(verdict="preserve", emotion="joy")
    server.enqueue(reply(first), reply(critic_content(verdict="preserve")))
    verdict = judge(critic(server))
    assert verdict.repaired and verdict.first_raw == json.dumps(first)
    assert json.loads(verdict.raw)["emotion"] == "awe"


def test_rate_limits_reach_the_task_layer(server):
    server.enqueue(rate_limited("11"))
    with pytest.raises(TransientModelError) as caught:
        judge(critic(server))
    assert caught.value.retry_after == 11.0


def test_get_critic_caches_per_config(server):
    config = EndpointConfig(name="critic", base_url=server.base_url, model="m")
    assert get_critic(config=config) is get_critic(config=config)


def test_a_samples_three_calls_encode_its_image_file_once(server, tmp_path):
    path = tmp_path / "sample.png"
    Image.new("RGB", (900, 600), (40, 90, 160)).save(path)
    image_cache.clear()
    before = image_cache.encodes
    annotator_config = EndpointConfig(name="gpt4o", base_url=server.base_url, model="gpt-4o-test")
    vlm = VlmAnnotator(config=annotator_config, labels=LABELS)
    annotation = reply(annotation_content())
    server.enqueue(annotation, annotation, reply(critic_content()))
    vlm.annotate(image=path)
    vlm.annotate(image=path)
    critic(server).judge(image=path, proposals=PROPOSALS, grounding=GROUNDING, labels=LABELS)
    assert image_cache.encodes == before + 1
    (url,) = {request.image_urls()[0] for request in server.requests}  # the same image sent
    assert len(server.requests) == 3 and url.startswith("data:image/jpeg;base64,")
    image_cache.clear()
