"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It implements POST /v1/chat/completions. Each request takes the next behaviour from a queue
(a valid reply, malformed JSON, a 429 with Retry-After, a 500, a slow reply...), or the default
behaviour when the queue is empty, and the request is recorded so tests can assert what the
real openai client sent (the image data URL, response_format, the repair message).

    with OpenAIServer() as server:
        server.enqueue(malformed(), reply(annotation_content()))
        ... openai.OpenAI(base_url=server.base_url, api_key="x") ...
        assert server.requests[1].body["messages"][-1]["role"] == "user"

`OpenAIServer.instant()` answers every request at once with a valid annotation (no sleeps, no
recording, a deep listen backlog): a stand-in endpoint for throughput benchmarks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from annotator.taxonomy import MIKELS_8_LABELS
from tests.support.openai_batches import BatchBackend


@dataclass(frozen=True)
class Behaviour:
    status: int = 200
    content: str | None = None  # the assistant message's content (status 200)
    error: str = ""  # the error message (other statuses)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    usage: tuple[int, int] | None = (120, 40)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = 0.0  # time.monotonic() at arrival: rate-limit tests measure per-second windows

    @property
    def response_format_type(self) -> str | None:
        response_format = self.body.get("response_format")
        return response_format.get("type") if isinstance(response_format, dict) else None

    def image_urls(self) -> list[str]:
        urls = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                urls += [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
        return urls


Responder = Behaviour | Callable[[dict[str, Any]], Behaviour]


def annotation_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "description": "A person stands on a snow-covered plain under a wide sky.",
        "emotion": "awe",
        "confidence": 7,
        "background": "snow-covered plain",
        "attribute": "excited",
        "subject": "person",
        "boxes": None,
    }
    return {**content, **overrides}


def critic_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "reasoning": "The proposals disagree; the open plain and upward gaze suggest awe.",
        "checks": {
            "emotion_consistent": False,
            "triplet_grounded": True,
            "box_matches_subject": True,
            "confidence_plausible": True,
        },
        "verdict": "revise",
        "emotion": "awe",
        "instructions": "Look again at the person's posture; name the emotion it conveys.",
    }
    return {**content, **overrides}


def reply(content: str | dict[str, Any], *, usage: tuple[int, int] | None = (120, 40)) -> Behaviour:
    text = content if isinstance(content, str) else json.dumps(content)
    return Behaviour(content=text, usage=usage)


def malformed(text: str = '{"description": "a person", "emotion": ') -> Behaviour:
    return Behaviour(content=text)


def rate_limited(retry_after: str | None = "2") -> Behaviour:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Behaviour(status=429, error="Rate limit reached.", headers=headers)


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(status=status, error="The server had an error.")


def error(status: int, message: str = "Bad request.") -> Behaviour:
    return Behaviour(status=status, error=message)


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    base = then or reply(annotation_content())
    return Behaviour(base.status, base.content, base.error, base.headers, seconds, base.usage)


def instant_annotation(body: dict[str, Any]) -> Behaviour:
    """A valid annotation whose emotion depends on the image and the model (so models disagree)."""
    urls = RecordedRequest(path="", headers={}, body=body).image_urls()
    seed = (urls[0][-64:] if urls else "") + str(body.get("model"))
    index = hashlib.blake2b(seed.encode(), digest_size=2).digest()[0] % len(MIKELS_8_LABELS)
    return reply(annotation_content(emotion=MIKELS_8_LABELS[index]))


def call_key(body: dict[str, Any]) -> str:
    """Which unit a chat request belongs to: its model and its first two messages (the system
    prompt; the user text, with a revise round's instructions, and image). A repair request
    counts as another call of the same unit."""
    seed = json.dumps([body.get("model"), (body.get("messages") or [])[:2]], sort_keys=True)
    return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


class OpenAIServer:
    def __init__(
        self,
        *,
        default: Responder | None = None,
        reject_response_formats: Iterable[str] = (),
        record: bool = True,
    ) -> None:
        self.default: Responder = default or reply(annotation_content())
        # Answer 400 to these response_format types without using up a queued behaviour.
        self.reject_response_formats = set(reject_response_formats)
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.batches = BatchBackend(self)  # /v1/files, /v1/batches (openai_batches.py)
        # Calls per unit (model, image, prompt), direct or in a batch: "never sent twice".
        self.count_calls = record
        self.calls: Counter[str] = Counter()

    @classmethod
    def instant(cls) -> OpenAIServer:
        return cls(default=instant_annotation, record=False)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def behaviour_for(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Behaviour:
        request = RecordedRequest(path=path, headers=headers, body=body, at=time.monotonic())
        with self._lock:
            if self.record:
                self.requests.append(request)
            if request.response_format_type in self.reject_response_formats:
                kind = request.response_format_type
                return error(400, f"response_format type '{kind}' is not supported")
            if self._queue:
                return self._queue.popleft()
        return self.default(body) if callable(self.default) else self.default

    def count_call(self, body: dict[str, Any]) -> None:
        if self.count_calls:
            key = call_key(body)
            with self._lock:
                self.calls[key] += 1

    def completion(self, body: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
        completion: dict[str, Any] = {
            "id": f"chatcmpl-test-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": behaviour.content},
                    "finish_reason": "stop",
                }
            ],
        }
        if behaviour.usage is not None:
            prompt, output = behaviour.usage
            completion["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": output,
                "total_tokens": prompt + output,
            }
        return completion

    def start(self) -> OpenAIServer:
        handler = type("Handler", (_Handler,), {"app": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        httpd.request_queue_size = 256
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-server"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes slow replies
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    app: OpenAIServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
    # Headers and body go out in two writes; with Nagle's algorithm the body then waits for the
    # client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._batch_route("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            if self._batch_route("POST", raw):
                return
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request"}})
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        behaviour = self.app.behaviour_for(self.path, headers, body)
        self.app.count_call(body)
        if behaviour.delay_s and self.app.stopping.wait(behaviour.delay_s):
            return
        if behaviour.status == 200:
            self._send(200, self.app.completion(body, behaviour))
        else:
            payload = {"error": {"message": behaviour.error, "type": "test_error", "code": None}}
            self._send(behaviour.status, payload, behaviour.headers)

    def _batch_route(self, method: str, raw: bytes) -> bool:
        headers = {key.lower(): value for key, value in self.headers.items()}
        answer = self.app.batches.handle(method, self.path, headers, raw)
        if answer is None:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return True
        self._send(*answer)
        return True

    def _send(
        self, status: int, payload: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet
