"""Ingest a finished provider batch into its units (batch mode, annotator/pipeline/batch.py).

Each output line (custom_id = the unit's id) runs the unit's stage again with the batch's reply
as the first answer (annotator.adapters.llm.batch_reply): the same validation, the same records,
and a repair, when one is needed, as a direct call. Error lines: a transient status (429, 408,
409, 5xx) or an expired request goes back to be staged again while the endpoint's max_retries
allow; any other status fails the unit. Units the batch did not answer (cancelled) go back to
pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from annotator.models import BatchRequest, ModelBatch, StageResult
from annotator.pipeline.runs.config_store import run_config
from annotator.pipeline.runs.context import UnitContext
from annotator.pipeline.runs.execution import _execute_claimed, finish_run_if_complete, finish_unit
from annotator.pipeline.runs.stages import stage_endpoint_retries
from annotator.pipeline.runs.units import PENDING, RUNNING, UnitRef
from annotator.pipeline.staging import ingesting_batch

logger = logging.getLogger(__name__)
_TRANSIENT = {408, 409, 429}
HOLDER = "batch"  # = batch.BATCH_HOLDER (that module imports this one)


@dataclass
class Ingested:
    ingested: int = 0
    next_units: list[UnitRef] = field(default_factory=list)


def ingest_batch(*, api: Any, batch: ModelBatch, state: Any) -> Ingested:
    """`api`: adapters.batch_api.BatchApi; `state`: its BatchState, final."""
    lines = _lines(api, state.output_file_id) + _lines(api, state.error_file_id)
    report = Ingested()
    answered: set[int] = set()
    for line in lines:
        unit_id = int(line["custom_id"])
        answered.add(unit_id)
        report.next_units += _ingest_line(unit_id, line, report)
    unanswered = set(batch.items.values_list("unit_id", flat=True)) - answered
    if state.status == "failed" and unanswered:
        for unit_id in sorted(unanswered):
            _fail(unit_id, f"batch {state.id} failed: {state.errors or 'no reason given'}")
    elif unanswered:
        report.next_units += release_units(unit_ids=sorted(unanswered), due=True)
    with transaction.atomic():
        ModelBatch.objects.filter(pk=batch.pk).update(
            status=ModelBatch.Status.DONE, provider_status=state.status, finished_at=timezone.now()
        )
        BatchRequest.objects.filter(batch=batch).delete()  # the bodies hold images: large
    return report


def _lines(api: Any, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    return [orjson.loads(line) for line in api.content(file_id=file_id).splitlines() if line]


def _ingest_line(unit_id: int, line: dict[str, Any], report: Ingested) -> list[UnitRef]:
    from annotator.adapters.llm import batch_reply, completion_from_body

    response = line.get("response") or {}
    status = int(response.get("status_code") or 0)
    if status == 200:
        unit = _held_unit(unit_id)
        if unit is None:
            return []
        token = ingesting_batch.set(True)
        try:
            with batch_reply(completion_from_body(response.get("body") or {})):
                outcome = _execute_claimed(unit)
        finally:
            ingesting_batch.reset(token)
        report.ingested += 1
        if outcome.retry_in is not None:  # the repair's direct call failed transiently
            return [UnitRef(unit.pk, unit.stage)]
        return outcome.next_units
    code = (line.get("error") or {}).get("code") or ""
    if code == "batch_expired" or status in _TRANSIENT or status >= 500:
        return _again_or_fail(unit_id, f"batch request: {code or f'HTTP {status}'}")
    message = ((response.get("body") or {}).get("error") or {}).get("message") or code
    _fail(unit_id, f"batch request failed: HTTP {status}: {message}")
    return []


def _held_unit(unit_id: int) -> StageResult | None:
    """The unit with what its stage needs (as a claim loads it), while the batch holds it."""
    return (
        StageResult.objects.select_related("run", "sample__dataset__taxonomy")
        .defer("sample__des")
        .filter(pk=unit_id, status=RUNNING, claimed_by=HOLDER, run__isnull=False)
        .first()
    )


def _again_or_fail(unit_id: int, message: str) -> list[UnitRef]:
    unit = _held_unit(unit_id)
    if unit is None:
        return []
    assert unit.run is not None
    if unit.attempts <= stage_endpoint_retries(
        UnitContext(unit=unit, config=run_config(data=unit.run.config))
    ):
        StageResult.objects.filter(pk=unit_id).update(error=f"attempt {unit.attempts}: {message}")
        return release_units(unit_ids=[unit_id], due=True)
    _fail(unit_id, f"gave up after {unit.attempts} attempts: {message}")
    return []


def _fail(unit_id: int, message: str) -> None:
    unit = _held_unit(unit_id)
    if unit is None or unit.run is None:
        return
    finished = finish_unit(UnitContext(unit=unit, config=run_config(data=unit.run.config)), message)
    if not finished.next_units and not finished.round_open:
        finish_run_if_complete(run_id=unit.run.pk)


def release_units(*, unit_ids: list[int], due: bool = False) -> list[UnitRef]:
    """Units a batch held go back to pending (`due`: to be sent again now); their staged
    requests are dropped, so the next claim stages them anew."""
    held = StageResult.objects.filter(pk__in=unit_ids, status=RUNNING, claimed_by=HOLDER)
    refs = [UnitRef(pk, stage) for pk, stage in held.values_list("id", "stage")]
    with transaction.atomic():
        held.filter(pk__in=[r.id for r in refs]).update(
            status=PENDING, claimed_by="", lease_until=None,
            send_due=timezone.now() if due else None,
        )  # fmt: skip
        BatchRequest.objects.filter(unit_id__in=unit_ids).delete()
    return refs if due else []
