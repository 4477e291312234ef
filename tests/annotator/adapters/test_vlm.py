"""The VLM adapter drives the real openai client against a loopback OpenAI-compatible server."""

from __future__ import annotations

import base64
import email.utils
import io
import json
import socket
import threading
import time

import pytest
from PIL import Image

pytest.importorskip("openai")

from annotator.adapters.vlm import (
    PermanentModelError,
    TransientModelError,
    VlmAnnotator,
    get_vlm_annotator,
)
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.errors import PipelineConfigError
from annotator.taxonomy import MIKELS_8_LABELS as LABELS
from tests.support.openai_server import (
    OpenAIServer,
    annotation_content,
    error,
    malformed,
    rate_limited,
    reply,
    server_error,
    slow,
)

pytestmark = pytest.mark.ml


@pytest.fixture
def server():
    with OpenAIServer() as running:
        yield running


def endpoint(server: OpenAIServer, **overrides) -> EndpointConfig:
    values = {"name": "gpt4o", "base_url": server.base_url, "model": "gpt-4o-test"}
    return EndpointConfig(**{**values, "timeout_s": 5.0, **overrides})


def annotator(server: OpenAIServer, **overrides) -> VlmAnnotator:
    return VlmAnnotator(config=endpoint(server, **overrides), labels=LABELS)


def picture(width: int = 1600, height: int = 1000) -> Image.Image:
    return Image.new("RGB", (width, height), (30, 120, 200))


def decode_data_url(url: str) -> Image.Image:
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))


def test_a_valid_reply_becomes_an_annotation(server):
    boxes = [{"phrase": "person", "box": [0.25, 0.5, 0.75, 1.0]}]
    server.enqueue(reply(annotation_content(emotion="Awe", confidence=8.5, boxes=boxes)))
    result = annotator(server).annotate(image=picture())
    assert (result.emotion, result.confidence, result.subject) == ("awe", 8.5, "person")
    assert result.boxes == [{"phrase": "person", "box": [400.0, 500.0, 1200.0, 1000.0]}]
    assert (result.prompt_version, result.model, result.endpoint) == (
        "annotate.v1",
        "gpt-4o-test",
        "gpt4o",
    )
    assert (result.input_tokens, result.output_tokens, result.repaired) == (120, 40, False)
    assert json.loads(result.raw)["emotion"] == "Awe"
    assert result.latency_ms > 0
    assert result.proposal_fields()["raw"]["reply"] == result.raw


def test_the_request_carries_the_downscaled_image_schema_and_prompt(server):
    annotator(server, image_max_side=512, temperature=0.3).annotate(image=picture())
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    # Posted as bytes through the client's HTTP client (llm_transport.py), with its headers;
    # no retry layer of its own (the task layer retries).
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("OpenAI/Python")
    body = request.body
    assert (body["model"], body["temperature"]) == ("gpt-4o-test", 0.3)
    (url,) = request.image_urls()
    assert decode_data_url(url).size == (512, 320)
    assert request.response_format_type == "json_schema"
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"]["properties"]["emotion"]["enum"] == LABELS
    system = body["messages"][0]
    assert system["role"] == "system" and ", ".join(LABELS) in system["content"]


def test_bytes_input_small_images_and_reviewer_instructions(server):
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 200), (255, 0, 0, 128)).save(buffer, format="PNG")
    annotator(server).annotate(image=buffer.getvalue(), instructions="Look at the sky.")
    (request,) = server.requests
    assert decode_data_url(request.image_urls()[0]).size == (300, 200)  # never upscaled
    text = request.body["messages"][1]["content"][0]["text"]
    assert "Follow these instructions from a reviewer: Look at the sky." in text


def test_the_api_key_comes_from_the_named_environment_variable(server, monkeypatch):
    monkeypatch.setenv("EMOREVIEW_TEST_KEY", "secret-123")
    annotator(server, api_key_env="EMOREVIEW_TEST_KEY").annotate(image=picture(64, 64))
    assert server.requests[0].headers["authorization"] == "Bearer secret-123"
    monkeypatch.delenv("EMOREVIEW_TEST_KEY")
    with pytest.raises(PipelineConfigError, match="EMOREVIEW_TEST_KEY is not set"):
        annotator(server, api_key_env="EMOREVIEW_TEST_KEY")


def test_a_malformed_reply_gets_one_repair_request(server):
    bad = '{"description": "a person", "emotion": '
    server.enqueue(malformed(bad), reply(annotation_content(emotion="fear")))
    result = annotator(server).annotate(image=picture(64, 64))
    assert (result.emotion, result.repaired) == ("fear", True)
    assert (result.input_tokens, result.output_tokens) == (240, 80)  # both requests counted
    first, repair = server.requests
    messages = repair.body["messages"]
    assert messages[:2] == first.body["messages"]
    assert messages[2] == {"role": "assistant", "content": bad}
    assert messages[3]["role"] == "user"
    assert "- the reply is not valid JSON" in messages[3]["content"]
    raw = result.proposal_fields()["raw"]
    assert (raw["first_reply"], raw["reply"]) == (bad, result.raw)  # both replies kept


def test_a_reply_without_description_or_triplet_is_kept_as_unknown(server):
    partial = {"emotion": "sadness", "confidence": 6, "subject": "person"}
    server.enqueue(reply(partial))
    result = annotator(server).annotate(image=picture(64, 64))
    assert len(server.requests) == 1  # optional fields cost no repair
    assert (result.emotion, result.confidence, result.subject) == ("sadness", 6.0, "person")
    assert (result.description, result.background, result.attribute) == ("", "", "")
    fields = result.proposal_fields()
    assert fields["raw"]["unknown"] == ["description", "background", "attribute"]
    assert json.loads(fields["raw"]["reply"]) == partial


def test_a_reply_missing_a_required_field_fails_after_the_repair(server):
    partial = annotation_content()
    del partial["confidence"]
    server.enqueue(reply(partial), reply(partial))
    with pytest.raises(PermanentModelError, match='"confidence" must be a number') as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert json.loads(caught.value.raw or "") == partial
    assert len(server.requests) == 2


def test_a_reply_outside_the_taxonomy_is_repaired_with_the_problem_named(server):
    server.enqueue(reply(annotation_content(emotion="joy")), reply(annotation_content()))
    assert annotator(server).annotate(image=picture(64, 64)).emotion == "awe"
    repair_text = server.requests[1].body["messages"][-1]["content"]
    assert '"emotion" must be one of: amusement, awe' in repair_text and "'joy'" in repair_text


def test_malformed_twice_is_a_permanent_failure(server):
    server.enqueue(malformed("not json"), malformed("still not json"))
    with pytest.raises(PermanentModelError, match="still invalid after one repair") as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert caught.value.raw == "still not json"
    assert len(server.requests) == 2


def test_429_is_transient_with_retry_after_in_seconds(server):
    server.enqueue(rate_limited("7"))
    with pytest.raises(TransientModelError) as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert (caught.value.status_code, caught.value.retry_after) == (429, 7.0)
    assert len(server.requests) == 1  # no retry inside the adapter


def test_429_with_an_http_date_retry_after(server):
    server.enqueue(rate_limited(email.utils.formatdate(time.time() + 30, usegmt=True)))
    with pytest.raises(TransientModelError) as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 31


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(server, status):
    server.enqueue(server_error(status))
    with pytest.raises(TransientModelError) as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert (caught.value.status_code, caught.value.retry_after) == (status, None)


def test_a_timeout_is_transient(server):
    server.enqueue(slow(3.0))
    started = time.perf_counter()
    with pytest.raises(TransientModelError, match="timed out"):
        annotator(server, timeout_s=0.3).annotate(image=picture(64, 64))
    assert time.perf_counter() - started < 2.5


def test_a_refused_connection_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = EndpointConfig(name="down", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    with pytest.raises(TransientModelError, match="connection error"):
        VlmAnnotator(config=config, labels=LABELS).annotate(image=picture(64, 64))


@pytest.mark.parametrize("status", [401, 403, 404])
def test_other_4xx_are_permanent_and_not_retried(server, status):
    server.enqueue(error(status, "no access"))
    with pytest.raises(PermanentModelError) as caught:
        annotator(server).annotate(image=picture(64, 64))
    assert caught.value.status_code == status and "no access" in str(caught.value)
    assert len(server.requests) == 1


def test_structured_output_falls_back_and_the_endpoint_is_remembered():
    with OpenAIServer(reject_response_formats={"json_schema"}) as server:
        vlm = annotator(server)
        assert vlm.annotate(image=picture(64, 64)).emotion == "awe"
        assert vlm.annotate(image=picture(64, 64)).emotion == "awe"
        kinds = [request.response_format_type for request in server.requests]
        assert kinds == ["json_schema", "json_object", "json_object"]
        # Another annotator on the same endpoint knows it too.
        annotator(server).annotate(image=picture(64, 64))
        assert server.requests[-1].response_format_type == "json_object"


def test_plain_requests_when_no_json_mode_is_supported():
    with OpenAIServer(reject_response_formats={"json_schema", "json_object"}) as server:
        assert annotator(server).annotate(image=picture(64, 64)).subject == "person"
        assert [r.response_format_type for r in server.requests] == [
            "json_schema",
            "json_object",
            None,
        ]
        assert "response_format" not in server.requests[-1].body


def test_a_400_in_every_mode_is_permanent_and_not_remembered(server):
    server.enqueue(*[error(400, "image too large")] * 3)
    with pytest.raises(PermanentModelError, match="image too large"):
        annotator(server).annotate(image=picture(64, 64))
    assert len(server.requests) == 3
    annotator(server).annotate(image=picture(64, 64))
    assert server.requests[-1].response_format_type == "json_schema"


def test_one_cached_annotator_serves_many_threads():
    with OpenAIServer.instant() as server:
        config = endpoint(server, concurrency=3)
        vlm = get_vlm_annotator(config=config, labels=LABELS)
        assert get_vlm_annotator(config=config, labels=LABELS) is vlm
        results: list[str] = []

        def work(index: int) -> None:
            for _ in range(5):
                reply = vlm.annotate(image=picture(32 + index, 32))
                results.append(reply.emotion)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 30 and set(results) <= set(LABELS)
