"""The provider side of batch mode: the files and batches APIs of an OpenAI-compatible endpoint.

Upload a JSONL input file (purpose "batch"), create the batch for /v1/chat/completions, retrieve
its state, read its output and error files, cancel it, and find a batch by its metadata (a
batch created just before a crash, whose id was never stored). Errors map like chat calls
(llm.map_openai_error). `openai` is imported only here and in llm.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotator.adapters.llm import make_client, map_openai_error
from annotator.pipeline.config import EndpointConfig

CHAT_PATH = "/v1/chat/completions"
# Batch states after which nothing changes (OpenAI's names).
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchState:
    id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    errors: str = ""  # why a failed batch failed (validation), as the provider said


class BatchApi:
    def __init__(self, *, config: EndpointConfig) -> None:
        self.config = config
        self.client = make_client(config)

    def submit(self, *, jsonl: bytes, metadata: dict[str, str]) -> tuple[str, str]:
        """Upload the input and create the batch: (input file id, batch id)."""
        import openai

        try:
            uploaded = self.client.files.create(file=("batch.jsonl", jsonl), purpose="batch")
            batch = self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata=metadata,
            )
        except openai.OpenAIError as exc:
            raise map_openai_error(exc) from exc
        return uploaded.id, batch.id

    def retrieve(self, *, batch_id: str) -> BatchState:
        return _state(self._call(lambda: self.client.batches.retrieve(batch_id)))

    def cancel(self, *, batch_id: str) -> BatchState:
        return _state(self._call(lambda: self.client.batches.cancel(batch_id)))

    def content(self, *, file_id: str) -> bytes:
        return self._call(lambda: self.client.files.content(file_id).content)

    def find(self, *, key: str, value: str) -> str | None:
        """The id of a recent batch whose metadata has key = value, or None."""
        page = self._call(lambda: self.client.batches.list(limit=100))
        for batch in page.data:
            if (batch.metadata or {}).get(key) == value:
                return batch.id
        return None

    def _call(self, call: Any) -> Any:
        import openai

        try:
            return call()
        except openai.OpenAIError as exc:
            raise map_openai_error(exc) from exc


def _state(batch: Any) -> BatchState:
    errors = ""
    if batch.errors is not None and batch.errors.data:
        errors = "; ".join(str(error.message) for error in batch.errors.data)
    return BatchState(batch.id, batch.status, batch.output_file_id, batch.error_file_id, errors)
