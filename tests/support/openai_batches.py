"""The files and batches endpoints of the loopback OpenAI server (tests/support/openai_server.py).

POST /v1/files (multipart, purpose "batch"), GET /v1/files/{id}/content, POST /v1/batches,
GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, GET /v1/batches (newest first).

A batch runs when it is first retrieved after `polls_before_done` retrievals: each line of its
input goes through the server's behaviour queue like a chat request (so tests enqueue malformed
replies, 500s, ... for batch lines too). A 200 goes to the output file, any other status to the
error file (response.status_code and body, as OpenAI does). `expire_after = N` answers only the
first N lines; the rest go to the error file with error code "batch_expired" and the batch is
"expired". A cancelled batch answers nothing.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.openai_server import OpenAIServer


@dataclass
class StoredBatch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, str]
    status: str = "validating"
    polls: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )
    created_at: int = field(default_factory=lambda: int(time.time()))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
            "errors": None,
        }


class BatchBackend:
    def __init__(self, app: OpenAIServer) -> None:
        self.app = app
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, StoredBatch] = {}
        self.polls_before_done = 0
        self.expire_after: int | None = None
        self.created = 0  # batches.create calls
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def add_file(self, purpose: str, content: bytes) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = (purpose, content)
        return {
            "id": file_id, "object": "file", "bytes": len(content), "purpose": purpose,
            "created_at": int(time.time()), "filename": f"{file_id}.jsonl", "status": "processed",
        }  # fmt: skip

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes):
        """(status, JSON payload or bytes) for a files/batches route, or None."""
        parts = path.split("?")[0].strip("/").split("/")[1:]  # after "v1"
        if parts == ["files"] and method == "POST":
            purpose, content = _multipart(headers.get("content-type", ""), raw)
            return 200, self.add_file(purpose, content)
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            stored = self.files.get(parts[1])
            return (200, stored[1]) if stored else _missing(parts[1])
        if parts == ["batches"] and method == "POST":
            return 200, self._create(json.loads(raw or b"{}"))
        if parts == ["batches"]:
            with self._lock:
                listed = [b.as_json() for b in reversed(list(self.batches.values()))]
            return 200, {"object": "list", "data": listed, "has_more": False}
        if len(parts) >= 2 and parts[0] == "batches":
            batch = self.batches.get(parts[1])
            if batch is None:
                return _missing(parts[1])
            if parts[2:] == ["cancel"] and method == "POST":
                return 200, self._cancel(batch)
            return 200, self._retrieve(batch)
        return None

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.created += 1
            batch = StoredBatch(
                id=f"batch_{next(self._ids)}", input_file_id=body["input_file_id"],
                endpoint=body.get("endpoint", ""), metadata=body.get("metadata") or {},
            )  # fmt: skip
            self.batches[batch.id] = batch
            lines = self.files[batch.input_file_id][1].splitlines()
            batch.counts["total"] = len([line for line in lines if line.strip()])
            return batch.as_json()

    def _cancel(self, batch: StoredBatch) -> dict[str, Any]:
        with self._lock:
            if batch.status in ("validating", "in_progress"):
                batch.status = "cancelled"
            return batch.as_json()

    def _retrieve(self, batch: StoredBatch) -> dict[str, Any]:
        with self._lock:
            if batch.status in ("validating", "in_progress"):
                batch.polls += 1
                batch.status = "in_progress"
                if batch.polls > self.polls_before_done:
                    self._run(batch)
            return batch.as_json()

    def _run(self, batch: StoredBatch) -> None:
        lines = [
            json.loads(x) for x in self.files[batch.input_file_id][1].splitlines() if x.strip()
        ]
        output, errors = [], []
        for index, line in enumerate(lines):
            if self.expire_after is not None and index >= self.expire_after:
                errors.append(_line(line, None, {"code": "batch_expired", "message": "expired"}))
                continue
            body = line["body"]
            behaviour = self.app.behaviour_for(line["url"], {}, body)
            self.app.count_call(body)
            if behaviour.status == 200:
                output.append(
                    _line(line, {"status_code": 200, "body": self.app.completion(body, behaviour)})
                )
            else:
                error = {"error": {"message": behaviour.error, "type": "test_error", "code": None}}
                errors.append(_line(line, {"status_code": behaviour.status, "body": error}))
        batch.counts.update(completed=len(output), failed=len(errors))
        expired = self.expire_after is not None and self.expire_after < len(lines)
        batch.status = "expired" if expired else "completed"
        if output:
            batch.output_file_id = self.add_file("batch_output", _jsonl(output))["id"]
        if errors:
            batch.error_file_id = self.add_file("batch_output", _jsonl(errors))["id"]


def _line(line: dict[str, Any], response: dict[str, Any] | None, error: Any = None) -> dict:
    return {"id": f"req-{line['custom_id']}", "custom_id": line["custom_id"],
            "response": response, "error": error}  # fmt: skip


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _missing(name: str) -> tuple[int, dict[str, Any]]:
    return 404, {"error": {"message": f"No such object: {name}", "type": "invalid_request_error"}}


def _multipart(content_type: str, raw: bytes) -> tuple[str, bytes]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    purpose, content = "", b""
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        if name == "purpose":
            purpose = payload.decode()
        elif name == "file":
            content = payload
    return purpose, content
