"""Chat requests as bytes, posted through the openai client's own HTTP client.

Half a pipeline worker's CPU went to the openai client around the request (issue 13 §5): the
typed call's parameter transform, then, with the lower-level `client.post`, still its options
copy, header and URL building and response casting (about half of a request's CPU in a profile
of the chunk path). Here the parts of a body that do not change between units (model,
temperature, the response format with its JSON schema) are serialized once per endpoint and
prompt, and the body is posted with headers built once, through the same connection pool,
timeout and auth the client was made with. Errors come back as the client's own: an HTTP error
status as its APIStatusError subclass (so 400/422 step the structured-output mode down and 429
honours Retry-After as before), a timeout or a dropped connection as a TransientModelError.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from annotator.pipeline.errors import TransientModelError

if TYPE_CHECKING:
    import openai


class BodyHeads:
    """The serialized head of a chat body per response format, built once: `{"model": ...,
    "temperature": ..., "response_format": ..., "messages": ` (the messages and "}" follow)."""

    def __init__(self, *, model: str, temperature: float) -> None:
        self.model, self.temperature = model, temperature
        # (mode, schema name, id(schema)) -> (the schema, kept so its id is not reused; head)
        self._heads: dict[tuple[str, str, int], tuple[object, str]] = {}
        self._lock = threading.Lock()

    def body(
        self,
        messages: list[dict[str, Any]],
        *,
        key: tuple[str, str, dict[str, Any]],
        response_format: dict[str, Any] | None,
    ) -> bytes:
        """`key`: (mode, schema name, schema), what response_format was made from."""
        mode, name, schema = key
        cached = self._heads.get((mode, name, id(schema)))
        if cached is None:
            fields: dict[str, Any] = {"model": self.model, "temperature": self.temperature}
            if response_format:
                fields["response_format"] = response_format
            cached = (schema, json.dumps(fields, ensure_ascii=False)[:-1] + ', "messages": ')
            with self._lock:
                self._heads[(mode, name, id(schema))] = cached
        return (cached[1] + json.dumps(messages, ensure_ascii=False) + "}").encode("utf-8")


class DirectPost:
    """POST bytes to <base_url>/chat/completions with the client's HTTP client; a reply dict."""

    def __init__(self, *, client: openai.OpenAI, timeout_s: float) -> None:
        self.client = client
        self.http: Any = client._client  # the client's pool (httpx, or httpx2 in openai 3)
        self.url = str(client.base_url).rstrip("/") + "/chat/completions"
        headers = {**client.default_headers, **client.auth_headers}
        self.headers = {name: value for name, value in headers.items() if isinstance(value, str)}
        self.timeout_s = timeout_s
        transport = next(
            (kind for kind in type(self.http).__mro__ if kind.__module__.startswith("httpx")), None
        )
        library = __import__(transport.__module__.split(".")[0]) if transport else None
        self.timeout_errors: tuple[type[BaseException], ...] = (
            (library.TimeoutException,) if library else ()
        )
        self.transport_errors: tuple[type[BaseException], ...] = (
            (library.TransportError,) if library else ()
        )

    def post(self, content: bytes) -> dict[str, Any]:
        try:
            response = self.http.post(
                self.url, content=content, headers=self.headers, timeout=self.timeout_s
            )
        except self.timeout_errors as exc:
            raise TransientModelError("request timed out") from exc
        except self.transport_errors as exc:
            raise TransientModelError(f"connection error: {exc}") from exc
        if response.status_code >= 400:
            raise self.client._make_status_error_from_response(response)
        data = response.json()
        return data if isinstance(data, dict) else {}
