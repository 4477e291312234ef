"""Create or reset a run's StageResult rows, a batch of samples at a time.

Every unit the run has to do gets a row with run = this run and status pending (new rows are
created, failed or outdated ones reset); finished units keep their row and earlier run. The
units each sample starts with are returned, for the caller to dispatch once this commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from annotator.models import PipelineRun, StageResult
from annotator.pipeline.runs.units import (
    PENDING,
    ExistingUnit,
    RunSpec,
    UnitKey,
    UnitRef,
    plan_sample,
)

BATCH_SIZE = 500


@dataclass
class SeedReport:
    samples: int = 0
    created: int = 0
    reset: int = 0
    finished_samples: int = 0  # samples with nothing left to do
    start: list[UnitRef] = field(default_factory=list)

    @property
    def units(self) -> int:
        return self.created + self.reset


def seed_run(*, run: PipelineRun, spec: RunSpec, sample_ids: Sequence[int]) -> SeedReport:
    """Call inside the transaction that creates the run."""
    report = SeedReport(samples=len(sample_ids))
    for offset in range(0, len(sample_ids), BATCH_SIZE):
        _seed_batch(run, spec, list(sample_ids[offset : offset + BATCH_SIZE]), report)
    return report


def _existing(sample_ids: list[int]) -> dict[int, dict[UnitKey, ExistingUnit]]:
    rows = StageResult.objects.filter(sample_id__in=sample_ids).values_list(
        "id",
        "sample_id",
        "stage",
        "model_name",
        "prompt_version",
        "round",
        "status",
        "error",
        "output__verdict",
    )
    found: dict[int, dict[UnitKey, ExistingUnit]] = {pk: {} for pk in sample_ids}
    for pk, sample_id, stage, model, version, round_, status, error, verdict in rows:
        key = UnitKey(stage, model, version, round_)
        found[sample_id][key] = ExistingUnit(pk, status, error, verdict or "")
    return found


def _seed_batch(run: PipelineRun, spec: RunSpec, sample_ids: list[int], report: SeedReport):
    existing = _existing(sample_ids)
    new: list[StageResult] = []
    reset: list[int] = []
    starts: list[tuple[int, UnitKey]] = []
    for sample_id in sample_ids:
        plan = plan_sample(spec=spec, existing=existing[sample_id])
        if plan.finished:
            report.finished_samples += 1
            continue
        new += [_row(run, sample_id, key) for key in plan.create]
        reset += plan.reset
        starts += [(sample_id, key) for key in plan.start]
    StageResult.objects.bulk_create(new, batch_size=BATCH_SIZE)
    if reset:
        StageResult.objects.filter(pk__in=reset).update(
            run=run, status=PENDING, attempts=0, error="", claimed_at=None, finished_at=None
        )
    ids = {(row.sample_id, _key(row)): row.pk for row in new}
    for sample_id, units in existing.items():
        ids.update({(sample_id, key): unit.id for key, unit in units.items()})
    report.created += len(new)
    report.reset += len(reset)
    report.start += [UnitRef(ids[(sample_id, key)], key.stage) for sample_id, key in starts]


def _row(run: PipelineRun, sample_id: int, key: UnitKey) -> StageResult:
    return StageResult(
        run=run,
        sample_id=sample_id,
        stage=key.stage,
        model_name=key.model_name,
        prompt_version=key.prompt_version,
        round=key.round,
        status=PENDING,
    )


def _key(row: StageResult) -> UnitKey:
    return UnitKey(row.stage, row.model_name, row.prompt_version, row.round)


def create_round_units(
    *, run_id: int, sample_id: int, keys: Iterable[UnitKey]
) -> dict[UnitKey, int]:
    """Rows for a revise round, pending and owned by the run (reset when they exist already:
    new instructions mean new work). Returns each key's row id."""
    keys = list(keys)
    rounds = {key.round for key in keys}
    rows = StageResult.objects.filter(sample_id=sample_id, round__in=rounds).values_list(
        "id", "stage", "model_name", "prompt_version", "round"
    )
    found = {UnitKey(stage, model, version, r): pk for pk, stage, model, version, r in rows}
    wanted = [key for key in keys if key in found]
    if wanted:
        StageResult.objects.filter(pk__in=[found[key] for key in wanted]).update(
            run_id=run_id, status=PENDING, attempts=0, error="", claimed_at=None, finished_at=None
        )
    new = [
        StageResult(
            run_id=run_id,
            sample_id=sample_id,
            stage=key.stage,
            model_name=key.model_name,
            prompt_version=key.prompt_version,
            round=key.round,
            status=PENDING,
        )
        for key in keys
        if key not in found
    ]
    StageResult.objects.bulk_create(new)
    return {**{key: found[key] for key in wanted}, **{_key(row): row.pk for row in new}}
