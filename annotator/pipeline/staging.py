"""The signal a batch-mode endpoint raises instead of sending (see annotator/pipeline/batch.py).

Here rather than in the adapters so that the run layer can catch it without loading them.
"""

from __future__ import annotations

import contextvars
from typing import Any


class BatchStaged(Exception):
    """The request a batch-mode endpoint would have sent: it goes into a batch, and its reply
    comes back through annotator.adapters.llm.batch_reply."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("request staged for a batch")
        self.body = body


# Set while a batch's answers are ingested (runs/batch_ingest.py): the call was made and paid
# already, so checks that guard sending (the run's budget) do not apply.
ingesting_batch: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ingesting_batch", default=False
)
