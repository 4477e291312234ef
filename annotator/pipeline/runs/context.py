"""What a stage function is given and what it gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from annotator.models import PipelineRun, Proposal, Sample, StageResult
from annotator.pipeline.config import PipelineConfig
from annotator.pipeline.runs.units import PENDING, SKIPPED, UnitRef
from annotator.pipeline.runs.writes import RowWrites


@dataclass
class RoundUnits:
    """The run's units of one sample and round, locked by the transaction that records a unit:
    whoever holds them decides what comes next, so parallel units start the next stage once."""

    sample_status: str  # as the unit's claim read it (people's decisions are kept on update)
    status: dict[int, str]  # unit id -> status, kept current by the transaction
    stage: dict[int, str]  # unit id -> stage
    # The recording transaction's rows to write before it commits (writes.py); None: at once.
    writes: RowWrites | None = None

    def ids(self, stage: str, *statuses: str) -> list[int]:
        return [
            pk
            for pk, s in self.stage.items()
            if s == stage and (not statuses or self.status[pk] in statuses)
        ]

    def skip(self, stage: str, reason: str) -> None:
        """Mark this round's pending units of `stage` skipped (not needed, not failed)."""
        ids = self.ids(stage, PENDING)
        if ids:
            StageResult.objects.filter(pk__in=ids).update(
                status=SKIPPED, output={"reason": reason}, finished_at=timezone.now()
            )
            self.status.update(dict.fromkeys(ids, SKIPPED))


# Runs inside the transaction that records the unit, holding the round's units; returns units
# to dispatch besides the next stage's (a revise verdict's next round).
Writer = Callable[[RoundUnits], list[UnitRef]]


class StageFailed(Exception):
    """A permanent problem with this unit that no retry can fix (a missing image, say)."""


@dataclass(frozen=True)
class UnitContext:
    unit: StageResult  # claimed; run and sample (with dataset and taxonomy) loaded
    config: PipelineConfig

    @property
    def sample(self) -> Sample:
        return self.unit.sample

    @property
    def run(self) -> PipelineRun:
        assert self.unit.run is not None
        return self.unit.run

    @property
    def labels(self) -> list[str]:
        return list(self.sample.dataset.taxonomy.labels)


@dataclass
class Computed:
    """A stage's result: what to record on the unit, and the writes to make with it."""

    output: dict[str, Any] = field(default_factory=dict)
    write: Writer | None = None
    # An annotation's proposal: upserted with the others recorded in the same transaction,
    # before any `write` (verify reads the proposals).
    proposal: Proposal | None = None
    skipped: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None


def image_file(sample: Sample) -> Path:
    """The sample's image under its dataset's images_root; StageFailed when absent or outside."""
    root_text = sample.dataset.images_root
    if not root_text or not sample.image_path:
        raise StageFailed(f"sample {sample.external_id}: no images_root or image_path")
    root = Path(root_text).resolve()
    path = (root / sample.image_path).resolve()
    if not path.is_relative_to(root):
        raise StageFailed(f"sample {sample.external_id}: {sample.image_path} is outside {root}")
    if not path.is_file():
        raise StageFailed(f"sample {sample.external_id}: image {path} not found")
    return path
