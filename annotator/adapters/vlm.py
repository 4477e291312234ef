"""Vision-language annotators behind any OpenAI-compatible endpoint (OpenAI, Gemini, vLLM, Ollama).

`VlmAnnotator.annotate` sends the image (downscaled, inline as a base64 data URL) with the
versioned annotate prompt, validates the JSON reply, asks once for a repair when it is invalid,
and returns an AnnotationReply that records the raw reply, tokens, latency, prompt version and
model. Failures raise TransientModelError (retry) or PermanentModelError (record).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotator.adapters.images import ImageInput, encoded_image
from annotator.adapters.llm import ChatEndpoint, image_message
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.errors import PermanentModelError, TransientModelError
from annotator.pipeline.prompts import load_prompt
from annotator.pipeline.replies import annotation_schema, parse_annotation

if TYPE_CHECKING:
    import openai

__all__ = [
    "AnnotationReply",
    "PermanentModelError",
    "TransientModelError",
    "VlmAnnotator",
    "get_vlm_annotator",
]


@dataclass(frozen=True)
class AnnotationReply:
    description: str
    emotion: str  # the taxonomy's spelling
    confidence: float  # 0-10
    background: str
    attribute: str
    subject: str
    boxes: list[dict[str, Any]] | None  # [{"phrase", "box": [x1, y1, x2, y2] original pixels}]
    raw: str
    prompt_version: str
    model: str  # the endpoint's model id, e.g. "gpt-4o"
    endpoint: str  # the [annotators.<name>] name: Proposal.model_name and the voting weight key
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    repaired: bool = False
    unknown: Sequence[str] = ()  # optional fields the model left out or gave invalid: not given
    first_raw: str | None = None  # the invalid first reply, when a repair was needed

    def proposal_fields(self) -> dict[str, Any]:
        """Keyword arguments for a Proposal row (minus sample and model_name)."""
        return {
            "description": self.description,
            "emotion": self.emotion,
            "confidence": self.confidence,
            "background": self.background,
            "attribute": self.attribute,
            "subject": self.subject,
            "prompt_version": self.prompt_version,
            "raw": {
                "reply": self.raw,
                "model": self.model,
                "boxes": self.boxes,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "latency_ms": round(self.latency_ms, 1),
                "repaired": self.repaired,
                "unknown": list(self.unknown),
                **({"first_reply": self.first_raw} if self.first_raw is not None else {}),
            },
        }


class VlmAnnotator:
    def __init__(
        self,
        *,
        config: EndpointConfig,
        labels: Sequence[str],
        prompt_version: str | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.config = config
        self.labels = list(labels)
        self.prompt = load_prompt(name="annotate", version=prompt_version)
        self.schema = annotation_schema(self.labels)
        self.endpoint = ChatEndpoint(config=config, client=client)

    def annotate(self, *, image: ImageInput, instructions: str = "") -> AnnotationReply:
        """`instructions`: the critic's re-annotation instructions on a revise round."""
        encoded = encoded_image(image, max_side=self.config.image_max_side)
        note = f"Follow these instructions from a reviewer: {instructions.strip()}"
        messages = [
            {"role": "system", "content": self.prompt.render_system(labels=", ".join(self.labels))},
            image_message(
                self.prompt.render_user(instructions=note if instructions.strip() else ""),
                encoded,
            ),
        ]
        reply = self.endpoint.complete_json(
            messages=messages,
            schema_name="annotation",
            schema=self.schema,
            parse=lambda text: parse_annotation(text, labels=self.labels, image_size=encoded.size),
        )
        fields = reply.reply_fields(config=self.config, prompt_version=self.prompt.version)
        return AnnotationReply(**fields)


_cache: dict[tuple[EndpointConfig, tuple[str, ...], str | None], VlmAnnotator] = {}
_cache_lock = threading.Lock()


def get_vlm_annotator(
    *, config: EndpointConfig, labels: Sequence[str], prompt_version: str | None = None
) -> VlmAnnotator:
    """One annotator per endpoint, taxonomy and prompt in this process (it pools connections)."""
    key = (config, tuple(labels), prompt_version)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = VlmAnnotator(config=config, labels=labels, prompt_version=prompt_version)
        return _cache[key]
