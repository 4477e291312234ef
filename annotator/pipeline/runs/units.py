"""Which units of work a run needs: stage order, unit keys and the plan for one sample (pure).

A unit is keyed like its StageResult row: (stage, model_name, prompt_version, round). Finished
units are never redone by a later run, unless work before them in the same sample and round has
to be redone (a new annotator, a new prompt version): then everything after it is redone too,
since verification and the critic depend on every proposal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from annotator.pipeline.config import PipelineConfig

# StageResult.Stage values, in the order a sample goes through them.
ANNOTATE, CALIBRATE, GROUND, VERIFY, CRITIC = "annotate", "calibrate", "ground", "verify", "critic"
STAGES = (ANNOTATE, CALIBRATE, GROUND, VERIFY, CRITIC)
ORDER = {stage: index for index, stage in enumerate(STAGES)}
# A revise verdict sends the sample round these again (with the critic's instructions).
ROUND_STAGES = (ANNOTATE, VERIFY, CRITIC)
QUEUES = {ANNOTATE: "llm", CALIBRATE: "default", GROUND: "gpu", VERIFY: "default", CRITIC: "llm"}
VERIFY_MODEL = "weighted-vote"
GROUNDING_DINO = "groundingdino"
BOXES_ONLY = "boxes"  # no grounder configured: the ground stage masks boxes the sample has

# StageResult.Status values.
PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
FINAL = frozenset({DONE, FAILED, SKIPPED})


@dataclass(frozen=True, order=True)
class UnitKey:
    stage: str
    model_name: str
    prompt_version: str
    round: int


@dataclass(frozen=True)
class UnitRef:
    """What a task needs to find its unit: the id; the stage picks the task and its queue."""

    id: int
    stage: str


@dataclass(frozen=True)
class RunSpec:
    """The units a run's configuration asks for, per round."""

    stages: tuple[str, ...]
    annotators: tuple[tuple[str, str], ...]  # (annotator name, annotate prompt version)
    classifier: str = "import"
    grounding: str = BOXES_ONLY  # model_name of ground units: "<grounder>+<segmenter>"
    critic: tuple[str, str] | None = None  # (critic model, critic prompt version)
    max_rounds: int = 1
    critic_agreed_share: float = 0.0

    def round_units(self, round_: int) -> list[UnitKey]:
        """Units of one round in stage order; a revise round re-runs ROUND_STAGES only."""
        wanted = self.stages if round_ == 0 else [s for s in self.stages if s in ROUND_STAGES]
        keys: list[UnitKey] = []
        for stage in sorted(wanted, key=ORDER.__getitem__):
            if stage == ANNOTATE:
                keys += [UnitKey(ANNOTATE, n, v, round_) for n, v in self.annotators]
            elif stage == CALIBRATE:
                keys.append(UnitKey(CALIBRATE, self.classifier, "", round_))
            elif stage == GROUND:
                keys.append(UnitKey(GROUND, self.grounding, "", round_))
            elif stage == VERIFY:
                keys.append(UnitKey(VERIFY, VERIFY_MODEL, "", round_))
            elif stage == CRITIC and self.critic is not None:
                keys.append(UnitKey(CRITIC, self.critic[0], self.critic[1], round_))
        return keys

    @property
    def revises(self) -> bool:
        """Whether a revise verdict can send samples round again in this run."""
        return ANNOTATE in self.stages and CRITIC in self.stages and self.max_rounds > 0


def parse_stages(text: str | Sequence[str] | None, *, config: PipelineConfig) -> list[str]:
    """The chosen stages in pipeline order. Default: all, less critic without a [critic].

    Raises ValueError naming what is wrong (unknown stage, critic without a [critic] table).
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return [s for s in STAGES if s != CRITIC or config.critic is not None]
    items = text.split(",") if isinstance(text, str) else list(text)
    chosen = [item.strip().lower() for item in items if item.strip()]
    unknown = [item for item in chosen if item not in ORDER]
    if unknown:
        raise ValueError(f"unknown stage {unknown[0]!r} (stages: {', '.join(STAGES)})")
    if not chosen:
        raise ValueError(f"name at least one stage ({', '.join(STAGES)})")
    if CRITIC in chosen and config.critic is None:
        raise ValueError("the critic stage needs a [critic] table in the pipeline config")
    return sorted(set(chosen), key=ORDER.__getitem__)


def run_spec(
    *,
    config: PipelineConfig,
    stages: Sequence[str],
    prompt_versions: Mapping[str, str],
    segmenter: str,
) -> RunSpec:
    """`prompt_versions`: {"annotate": "annotate.v1", "critic": "critic.v1"} (the latest files)."""
    grounder = GROUNDING_DINO if config.grounding.enabled else BOXES_ONLY
    critic = None
    if config.critic is not None:
        critic = (config.critic.model, prompt_versions["critic"])
    return RunSpec(
        stages=tuple(stages),
        annotators=tuple((name, prompt_versions["annotate"]) for name in config.annotators),
        classifier=config.classifier,
        grounding=f"{grounder}+{segmenter}",
        critic=critic,
        max_rounds=config.max_revise_rounds,
        critic_agreed_share=config.critic_agreed_share,
    )


def chosen_for_spot_check(*, sample_id: int, share: float) -> bool:
    """Whether an agreed sample goes to the critic anyway: the same answer on every run."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(f"sample:{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


@dataclass(frozen=True)
class ExistingUnit:
    id: int
    status: str
    error: str = ""
    verdict: str = ""  # a critic unit's recorded verdict

    @property
    def finished(self) -> bool:
        """Done, or skipped because it was not needed (a skip with an error is to be redone)."""
        return self.status == DONE or (self.status == SKIPPED and not self.error)


@dataclass
class SamplePlan:
    create: list[UnitKey] = field(default_factory=list)
    reset: list[int] = field(default_factory=list)  # ids of existing units to redo
    start: list[UnitKey] = field(default_factory=list)  # the first stage with work to do

    @property
    def finished(self) -> bool:
        return not self.create and not self.reset


def plan_sample(*, spec: RunSpec, existing: Mapping[UnitKey, ExistingUnit]) -> SamplePlan:
    """What one sample needs: walk its rounds until one has work left (or none does)."""
    round_ = 0
    while True:
        plan = _plan_round(spec.round_units(round_), existing)
        if not plan.finished:
            return plan
        critic = next((k for k in spec.round_units(round_) if k.stage == CRITIC), None)
        verdict = existing[critic].verdict if critic is not None and critic in existing else ""
        if not (spec.revises and verdict == "revise" and round_ < spec.max_rounds):
            return plan
        round_ += 1


def _plan_round(keys: list[UnitKey], existing: Mapping[UnitKey, ExistingUnit]) -> SamplePlan:
    plan = SamplePlan()
    dirty_stage: str | None = None  # the first stage with work: later stages are redone
    for key in keys:
        unit = existing.get(key)
        redo = dirty_stage is not None and ORDER[key.stage] > ORDER[dirty_stage]
        if unit is not None and unit.finished and not redo:
            continue
        if unit is None:
            plan.create.append(key)
        else:
            plan.reset.append(unit.id)
        if dirty_stage is None:
            dirty_stage = key.stage
        if key.stage == dirty_stage:
            plan.start.append(key)
    return plan
