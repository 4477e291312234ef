"""One OpenAI-compatible chat endpoint: client, structured output, repair, errors.

Used by the VLM annotators (vlm.py) and the critic (critic.py). Each call makes one attempt per
request and maps failures to TransientModelError / PermanentModelError: the task layer owns
retries so it can honour Retry-After and record attempts (the openai client's own retries are
off). `openai` is imported lazily: nothing on the web path may load it.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotator.adapters.images import EncodedImage
from annotator.adapters.llm_transport import BodyHeads, DirectPost
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.errors import (
    PermanentModelError,
    PipelineConfigError,
    TransientModelError,
)
from annotator.pipeline.prompts import load_prompt
from annotator.pipeline.ratelimit import limiter_for
from annotator.pipeline.staging import BatchStaged

if TYPE_CHECKING:
    import openai

# Structured output, best first. An endpoint that rejects one (400/422) is asked the next way;
# the way that worked is remembered per (base_url, model) for the life of the process.
MODES = ("json_schema", "json_object", "plain")
_modes: dict[tuple[str, str], str] = {}
_modes_lock = threading.Lock()
_IMAGE_TOKENS_ESTIMATE = 800  # rough cost of a 768-px image; settled with reported usage
_REPLY_TOKENS_ESTIMATE = 500
_TRANSIENT_STATUSES = {408, 409, 429}
# The typed chat.completions.create instead of the bytes posted directly (llm_transport.py):
# the baseline of bench/pipeline_throughput.py (its +typed settings), measured in the same run.
_TYPED_CALLS = os.environ.get("EMOREVIEW_OPENAI_TYPED_CALLS") == "1"

Parser = Callable[[str | None], tuple[dict[str, Any] | None, list[str]]]


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    try:
        if millis is not None:
            return max(0.0, float(millis) / 1000.0)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def map_openai_error(exc: Exception) -> TransientModelError | PermanentModelError:
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"HTTP {status}: {exc.message}"
        if status in _TRANSIENT_STATUSES or status >= 500:
            retry_after = parse_retry_after(exc.response.headers)
            return TransientModelError(message, retry_after=retry_after, status_code=status)
        return PermanentModelError(message, status_code=status)
    if isinstance(exc, openai.APITimeoutError):
        return TransientModelError("request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return TransientModelError(f"connection error: {exc}")
    return PermanentModelError(f"{type(exc).__name__}: {exc}")


def make_client(config: EndpointConfig) -> openai.OpenAI:
    import openai

    api_key = "not-needed"  # local endpoints (vLLM, Ollama) take any key
    if config.api_key_env:
        api_key = os.environ.get(config.api_key_env, "").strip()
        if not api_key:
            raise PipelineConfigError(
                [f"{config.name}: environment variable {config.api_key_env} is not set"]
            )
    return openai.OpenAI(
        base_url=config.base_url, api_key=api_key, timeout=config.timeout_s, max_retries=0
    )


@dataclass(frozen=True)
class Completion:
    content: str | None
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True)
class JsonReply:
    value: dict[str, Any]
    raw: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    repaired: bool
    first_raw: str | None = None  # the reply that needed the repair, kept as it came

    def reply_fields(self, *, config: EndpointConfig, prompt_version: str) -> dict[str, Any]:
        """The parsed fields and the call's record: AnnotationReply's and CriticReply's."""
        return {
            **self.value,
            "raw": self.raw,
            "prompt_version": prompt_version,
            "model": config.model,
            "endpoint": config.name,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": self.latency_ms,
            "repaired": self.repaired,
            "first_raw": self.first_raw,
        }


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


_batch_reply: contextvars.ContextVar[Completion | None] = contextvars.ContextVar(
    "batch_reply", default=None
)


@contextlib.contextmanager
def batch_reply(completion: Completion) -> Iterator[None]:
    """Within this block the next JSON call takes `completion` (a batch's answer) as its first
    reply instead of sending; a repair it needs goes as a direct call."""
    token = _batch_reply.set(completion)
    try:
        yield
    finally:
        _batch_reply.reset(token)


def completion_from_body(body: dict[str, Any]) -> Completion:
    """A chat.completion JSON object (a batch output line's response body) as a Completion."""
    choices = body.get("choices") or [{}]
    usage = body.get("usage") or {}
    return Completion(
        content=(choices[0].get("message") or {}).get("content"),
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
    )


class ChatEndpoint:
    """Thread-safe: one per endpoint and process is enough (see VlmAnnotator, CriticAgent)."""

    def __init__(self, *, config: EndpointConfig, client: openai.OpenAI | None = None) -> None:
        self.config = config
        self.client = client or make_client(config)
        self.heads = BodyHeads(model=config.model, temperature=config.temperature)
        self.direct = DirectPost(client=self.client, timeout_s=config.timeout_s)
        self.limiter = limiter_for(config)
        self.repair_prompt = load_prompt(name="repair")

    @property
    def mode(self) -> str:
        with _modes_lock:
            return _modes.get((self.config.base_url, self.config.model), MODES[0])

    def _remember(self, mode: str) -> None:
        with _modes_lock:
            _modes[(self.config.base_url, self.config.model)] = mode

    def complete(
        self, *, messages: list[dict[str, Any]], schema_name: str, schema: dict[str, Any]
    ) -> Completion:
        """One chat completion, stepping down the structured-output modes the endpoint rejects."""
        import openai

        start = MODES.index(self.mode)
        first_error: Exception | None = None
        for mode in MODES[start:]:
            try:
                completion = self._request(messages, (mode, schema_name, schema))
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                first_error = first_error or exc
                if mode == MODES[-1]:
                    break
                continue
            except openai.OpenAIError as exc:
                error = map_openai_error(exc)
                if isinstance(error, TransientModelError) and error.status_code == 429:
                    # Every worker (shared limits) waits out the provider's Retry-After.
                    self.limiter.pause(error.retry_after or 1.0)
                raise error from exc
            if mode != MODES[start]:
                self._remember(mode)
            return completion
        assert first_error is not None
        raise map_openai_error(first_error) from first_error

    def _request(
        self, messages: list[dict[str, Any]], form: tuple[str, str, dict[str, Any]]
    ) -> Completion:
        """One request; `form`: (structured-output mode, schema name, schema)."""
        estimate = _estimate_tokens(messages)
        self.limiter.acquire(tokens=estimate)
        response_format = _response_format(*form)
        with self.limiter.slot():
            if _TYPED_CALLS:  # the baseline: the typed call and its parameter transform
                body = self.request_body(messages, response_format)
                data = self.client.chat.completions.create(**body).model_dump()
            else:  # the body's fixed parts serialized once, posted as bytes (llm_transport.py)
                content = self.heads.body(messages, key=form, response_format=response_format)
                data = self.direct.post(content)
        completion = completion_from_body(data if isinstance(data, dict) else {})
        used = _add(completion.input_tokens, completion.output_tokens)
        self.limiter.settle(estimated=estimate, actual=used)
        return completion

    def complete_json(
        self,
        *,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        parse: Parser,
    ) -> JsonReply:
        """A validated JSON reply; an invalid one gets one repair request, then is permanent."""
        started = time.perf_counter()
        first = self._first(messages, schema_name, schema)
        value, problems = parse(first.content)
        tokens_in, tokens_out, raw, repaired = first.input_tokens, first.output_tokens, first, False
        if value is None:
            repair = [
                *messages,
                {"role": "assistant", "content": first.content or ""},
                {"role": "user", "content": self._repair_text(problems)},
            ]
            raw = self.complete(messages=repair, schema_name=schema_name, schema=schema)
            tokens_in = _add(tokens_in, raw.input_tokens)
            tokens_out = _add(tokens_out, raw.output_tokens)
            value, problems = parse(raw.content)
            repaired = True
            if value is None:
                error = PermanentModelError(
                    "reply still invalid after one repair: " + "; ".join(problems),
                    raw=raw.content,
                )
                error.input_tokens, error.output_tokens = tokens_in, tokens_out  # still paid
                raise error
        latency_ms = (time.perf_counter() - started) * 1000.0
        first_raw = (first.content or "") if repaired else None
        return JsonReply(
            value, raw.content or "", tokens_in, tokens_out, latency_ms, repaired, first_raw
        )

    def _first(
        self, messages: list[dict[str, Any]], schema_name: str, schema: dict[str, Any]
    ) -> Completion:
        answered = _batch_reply.get()
        if answered is not None:
            _batch_reply.set(None)  # the repair, if any, goes direct
            return answered
        if self.config.mode == "batch":
            response_format = _response_format(self.mode, schema_name, schema)
            raise BatchStaged(self.request_body(messages, response_format))
        return self.complete(messages=messages, schema_name=schema_name, schema=schema)

    def request_body(
        self, messages: list[dict[str, Any]], response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
        }
        if response_format:
            body["response_format"] = response_format
        return body

    def _repair_text(self, problems: list[str]) -> str:
        listed = "\n".join(f"- {problem}" for problem in problems)
        return self.repair_prompt.render_user(problems=listed)


def _response_format(mode: str, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """About 4 characters a token for text, a flat cost per image, a typical reply."""
    chars, images = 0, 0
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if part.get("type") == "image_url":
                images += 1
            else:
                chars += len(str(part.get("text") or ""))
    return chars // 4 + images * _IMAGE_TOKENS_ESTIMATE + _REPLY_TOKENS_ESTIMATE


def image_message(text: str, image: EncodedImage) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": image.data_url}},
        ],
    }
