"""Money: the price of a model call, a run's spend so far, and the estimate for the rest.

Prices come from the pipeline TOML (`input_price_per_mtok`, `output_price_per_mtok`: US dollars
per million tokens, per endpoint). A cost is only as known as its prices: an endpoint without
them costs None, and totals say how many calls were priced.

Token estimates before a call (`run_pipeline --estimate`) follow the text the call sends: about
4 characters a token for the prompt, a flat IMAGE_TOKENS per image (a 768-px JPEG, as OpenAI
counts tiles: 85 + 170 x 4 = 765), and the reply's mean size (observed, else the endpoint's
`mean_reply_tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from annotator.pipeline.config import EndpointConfig, PipelineConfig

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 765


def call_cost(
    *, endpoint: EndpointConfig, input_tokens: int | None, output_tokens: int | None
) -> float | None:
    """US dollars for one call (or a sum of calls), None when a price or a count is missing."""
    if endpoint.input_price_per_mtok is None or endpoint.output_price_per_mtok is None:
        return None
    if input_tokens is None or output_tokens is None:
        return None
    return (
        input_tokens * endpoint.input_price_per_mtok
        + output_tokens * endpoint.output_price_per_mtok
    ) / 1_000_000


def prompt_tokens(*, text_chars: int, images: int = 1) -> int:
    return text_chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS


def endpoint_for_unit(
    *, config: PipelineConfig, stage: str, model_name: str
) -> EndpointConfig | None:
    """The endpoint a model unit calls: an annotator by its name, the critic by its model id."""
    if stage == "annotate":
        return config.annotators.get(model_name)
    if stage == "critic" and config.critic is not None and config.critic.model == model_name:
        return config.critic
    return None


@dataclass(frozen=True)
class ModelSpend:
    """One endpoint's calls in a run: finished and still to do."""

    stage: str
    model_name: str
    calls: int  # finished units that called the model (done)
    input_tokens: int
    output_tokens: int
    remaining: int  # units pending or running
    cost: float | None  # of the finished calls
    mean_cost: float | None  # per finished call

    @property
    def estimate_rest(self) -> float | None:
        if self.mean_cost is None:
            return None if self.remaining else 0.0
        return self.mean_cost * self.remaining


@dataclass(frozen=True)
class RunSpend:
    models: tuple[ModelSpend, ...]
    budget: float | None

    @property
    def cost(self) -> float:
        """Spend so far over the priced endpoints."""
        return sum(m.cost for m in self.models if m.cost is not None)

    @property
    def priced(self) -> bool:
        """Whether every endpoint that was or will be called has prices."""
        return all(m.cost is not None for m in self.models if m.calls)

    @property
    def estimate_rest(self) -> float | None:
        """The rest of the run at the mean cost so far; None while some endpoint has no mean."""
        parts = [m.estimate_rest for m in self.models]
        return None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)

    @property
    def tokens(self) -> tuple[int, int]:
        return (
            sum(m.input_tokens for m in self.models),
            sum(m.output_tokens for m in self.models),
        )

    @property
    def budget_reached(self) -> bool:
        return self.budget is not None and self.cost >= self.budget


def model_spend(
    *,
    config: PipelineConfig,
    stage: str,
    model_name: str,
    counts: Mapping[str, int],
) -> ModelSpend:
    """`counts`: calls, input_tokens, output_tokens (of done units), remaining."""
    calls = counts.get("calls", 0)
    endpoint = endpoint_for_unit(config=config, stage=stage, model_name=model_name)
    tokens_in, tokens_out = counts.get("input_tokens", 0), counts.get("output_tokens", 0)
    cost = None
    if endpoint is not None:
        cost = call_cost(endpoint=endpoint, input_tokens=tokens_in, output_tokens=tokens_out)
    mean = cost / calls if cost is not None and calls else None
    return ModelSpend(
        stage, model_name, calls, tokens_in, tokens_out, counts.get("remaining", 0), cost, mean
    )


def money(value: float | None) -> str:
    """`$12.34`, `$0.0042` for small sums, `unknown` without prices."""
    if value is None:
        return "unknown"
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


def spend_summary(spend: RunSpend) -> dict[str, object]:
    """What the run page shows, formatted: spend, rest, budget and whether it stopped calls."""
    tokens_in, tokens_out = spend.tokens
    return {
        "shown": bool(spend.models),
        "cost": money(spend.cost),
        "priced": spend.priced,
        "calls": sum(m.calls for m in spend.models),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "rest": money(spend.estimate_rest),
        "budget": money(spend.budget) if spend.budget is not None else "",
        "budget_reached": spend.budget_reached,
    }
