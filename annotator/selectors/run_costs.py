"""Reads behind a run's money: spend so far (from the tokens its units recorded) and the estimate
of a run not started yet (`run_pipeline --estimate`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, Sum

from annotator.models import Dataset, PipelineRun
from annotator.models import StageResult as Unit
from annotator.pipeline.config import EndpointConfig, PipelineConfig
from annotator.pipeline.costs import RunSpend, call_cost, model_spend, prompt_tokens
from annotator.pipeline.prompts import load_prompt
from annotator.pipeline.runs.config_store import run_config
from annotator.pipeline.runs.units import ANNOTATE, CRITIC, plan_sample, run_spec

MODEL_STAGES = (ANNOTATE, CRITIC)
# What the critic is shown per proposal besides the prompt (model, emotion, triplet...).
_PROPOSAL_CHARS = 400


def run_spend(*, run: PipelineRun) -> RunSpend:
    """Tokens and cost of the run's finished model calls, and what is left (one grouped query)."""
    config = run_config(data=run.config)
    rows = (
        Unit.objects.filter(run_id=run.pk, stage__in=MODEL_STAGES)
        .values_list("stage", "model_name", "status")
        .annotate(
            n=Count("id"),
            paid=Count("id", filter=Q(input_tokens__isnull=False)),
            tin=Sum("input_tokens"),
            tout=Sum("output_tokens"),
        )
        .order_by()
    )
    counts: dict[tuple[str, str], Counter[str]] = {}
    for stage, model, status, n, paid, tin, tout in rows:
        bucket = counts.setdefault((stage, model), Counter())
        if status == Unit.Status.DONE:
            bucket.update(calls=n, input_tokens=tin or 0, output_tokens=tout or 0)
        elif status == Unit.Status.FAILED:  # replies still invalid after the repair: paid for
            bucket.update(calls=paid, input_tokens=tin or 0, output_tokens=tout or 0)
        elif status in (Unit.Status.PENDING, Unit.Status.RUNNING):
            bucket.update(remaining=n)
    models = tuple(
        model_spend(config=config, stage=stage, model_name=model, counts=bucket)
        for (stage, model), bucket in sorted(counts.items())
    )
    return RunSpend(models=models, budget=config.budget)


@dataclass(frozen=True)
class EstimateRow:
    stage: str
    model_name: str
    calls: float  # the critic's are an expectation: units x disputed share
    input_tokens: int
    output_tokens: int
    reply_tokens_from: str  # "observed" or "configured"
    cost: float | None


@dataclass(frozen=True)
class RunEstimate:
    samples: int
    rows: tuple[EstimateRow, ...]
    disputed_share: float

    @property
    def cost(self) -> float | None:
        costs = [row.cost for row in self.rows]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)


def estimate_run(
    *,
    dataset: Dataset,
    config: PipelineConfig,
    stages: Sequence[str],
    sample_ids: Sequence[int],
    disputed_share: float,
) -> RunEstimate:
    """The model calls a run would make now (finished work skipped, as a start would plan it),
    first round only: revise rounds come on top."""
    from annotator.adapters.segmenters import resolve_segmenter_name
    from annotator.pipeline.runs.seeding import _existing  # the same reading a start does

    prompts = {name: load_prompt(name=name).version for name in ("annotate", "critic")}
    # The same spec a start makes: another segmenter would redo grounding and what follows.
    segmenter = resolve_segmenter_name()
    spec = run_spec(config=config, stages=stages, prompt_versions=prompts, segmenter=segmenter)
    units: Counter[tuple[str, str]] = Counter()
    for offset in range(0, len(sample_ids), 1000):
        batch = list(sample_ids[offset : offset + 1000])
        for found in _existing(batch).values():
            by_id = {unit.id: key for key, unit in found.items()}
            plan = plan_sample(spec=spec, existing=found)
            for key in [*plan.create, *(by_id[pk] for pk in plan.reset)]:
                if key.stage in (ANNOTATE, CRITIC):
                    units[(key.stage, key.model_name)] += 1
    labels = list(dataset.taxonomy.labels)
    rows = tuple(
        _estimate_row(config, stage, model, n, labels, disputed_share)
        for (stage, model), n in sorted(units.items())
    )
    return RunEstimate(samples=len(sample_ids), rows=rows, disputed_share=disputed_share)


def _estimate_row(
    config: PipelineConfig, stage: str, model: str, units: int, labels: list[str], share: float
) -> EstimateRow:
    endpoint = config.critic if stage == CRITIC else config.annotators[model]
    assert endpoint is not None
    calls = units * share if stage == CRITIC else float(units)
    chars = _prompt_chars(stage, labels, proposals=len(config.annotators))
    reply, source = _reply_tokens(stage, model, endpoint)
    tokens_in = round(calls * prompt_tokens(text_chars=chars))
    tokens_out = round(calls * reply)
    cost = call_cost(endpoint=endpoint, input_tokens=tokens_in, output_tokens=tokens_out)
    return EstimateRow(stage, model, calls, tokens_in, tokens_out, source, cost)


def _prompt_chars(stage: str, labels: list[str], *, proposals: int) -> int:
    prompt = load_prompt(name="annotate" if stage == ANNOTATE else "critic")
    system = prompt.render_system(labels=", ".join(labels))
    if stage == ANNOTATE:
        return len(system) + len(prompt.render_user(instructions=""))
    user = prompt.render_user(width=768, height=768, proposals=json.dumps([]), grounding="[]")
    return len(system) + len(user) + proposals * _PROPOSAL_CHARS


def _reply_tokens(stage: str, model: str, endpoint: EndpointConfig) -> tuple[float, str]:
    """The mean reply size this model gave in earlier runs, else the configured one."""
    observed = (
        Unit.objects.filter(stage=stage, model_name=model, status=Unit.Status.DONE)
        .exclude(output_tokens=None)
        .aggregate(mean=Avg("output_tokens"))["mean"]
    )
    if observed is not None:
        return float(observed), "observed"
    return float(endpoint.mean_reply_tokens), "configured"
