"""The Critic Agent: an LLM that judges a sample from its image, proposals and grounding.

It answers `reasoning` first (so it reasons before it decides), then `checks`, `verdict`
(preserve / revise / drop), `emotion` and re-annotation `instructions`. Same endpoint plumbing,
validation, repair and errors as the annotators (see llm.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotator.adapters.images import ImageInput, encoded_image
from annotator.adapters.llm import ChatEndpoint, image_message
from annotator.pipeline.config import EndpointConfig
from annotator.pipeline.prompts import load_prompt
from annotator.pipeline.replies import critic_schema, parse_critic

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class CriticReply:
    reasoning: str
    checks: dict[str, bool | None]  # emotion_consistent, ...; None: the critic did not say
    verdict: str  # CriticVerdict.Verdict value: preserve, revise, drop
    emotion: str  # a taxonomy label; "" only for drop
    instructions: str  # re-annotation instructions for revise, else "" (also when not given)
    raw: str
    prompt_version: str
    model: str
    endpoint: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    repaired: bool = False
    unknown: Sequence[str] = ()  # optional fields the critic left out: shown as not given
    first_raw: str | None = None  # the invalid first reply, when a repair was needed

    def verdict_fields(self) -> dict[str, Any]:
        """Keyword arguments for a CriticVerdict row (minus sample and round)."""
        return {
            "model_name": self.model,
            "verdict": self.verdict,
            "emotion": self.emotion,
            "reasoning": self.reasoning,
            "instructions": self.instructions,
            "checks": self.checks,
            "prompt_version": self.prompt_version,
        }


class CriticAgent:
    def __init__(
        self,
        *,
        config: EndpointConfig,
        prompt_version: str | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.config = config
        self.prompt = load_prompt(name="critic", version=prompt_version)
        self.endpoint = ChatEndpoint(config=config, client=client)

    def judge(
        self,
        *,
        image: ImageInput,
        proposals: list[dict[str, Any]],
        grounding: list[dict[str, Any]],
        labels: Sequence[str],
    ) -> CriticReply:
        """`proposals`: one dict per model (model, emotion, confidence, description, triplet);
        `grounding`: one dict per region (role, phrase, box in original pixels, score)."""
        labels = list(labels)
        encoded = encoded_image(image, max_side=self.config.image_max_side)
        width, height = encoded.size
        user = self.prompt.render_user(
            width=width,
            height=height,
            proposals=json.dumps(proposals, indent=1, ensure_ascii=False, default=str),
            grounding=json.dumps(grounding, indent=1, ensure_ascii=False, default=str),
        )
        messages = [
            {"role": "system", "content": self.prompt.render_system(labels=", ".join(labels))},
            image_message(user, encoded),
        ]
        reply = self.endpoint.complete_json(
            messages=messages,
            schema_name="critic_verdict",
            schema=critic_schema(labels),
            parse=lambda text: parse_critic(text, labels=labels),
        )
        fields = reply.reply_fields(config=self.config, prompt_version=self.prompt.version)
        return CriticReply(**fields)


_cache: dict[tuple[EndpointConfig, str | None], CriticAgent] = {}
_cache_lock = threading.Lock()


def get_critic(*, config: EndpointConfig, prompt_version: str | None = None) -> CriticAgent:
    key = (config, prompt_version)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = CriticAgent(config=config, prompt_version=prompt_version)
        return _cache[key]
