"""Batch mode: units of a `mode = "batch"` endpoint go through the provider's Batch API.

1. Stage: the unit is claimed as usual and its stage builds the request; the endpoint raises
   BatchStaged instead of sending (annotator.adapters.llm), and `stage_request` keeps the body
   as a BatchRequest while the unit stays running, held by BATCH_HOLDER with a long lease (the
   re-send check leaves it alone).
2. Submit (`poll_batches`): staged requests of one run, stage and endpoint become a JSONL input
   file (custom_id = the unit's id), uploaded, and a batch created; its id is stored.
3. Poll: each submitted batch is retrieved; once final, its lines are ingested
   (runs/batch_ingest.py) through the same stage code, validation and repair (a direct call).

Resumable: everything is in the database (a batch created but not yet saved is found again by
its metadata key). Cancellable: a cancelled run's batches are cancelled at the provider.
Celery beat runs `poll_batches` every PIPELINE_BATCH_POLL_SECONDS; the in-process runner
calls it for its run while units wait in batches.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from django.db import connection, transaction
from django.utils import timezone

from annotator.models import BatchRequest, ModelBatch, PipelineRun, StageResult
from annotator.pipeline.errors import ModelError
from annotator.pipeline.runs.batch_ingest import ingest_batch, release_units
from annotator.pipeline.runs.config_store import run_config
from annotator.pipeline.runs.units import CRITIC, RUNNING, UnitRef

logger = logging.getLogger(__name__)
BATCH_HOLDER = "batch"  # claimed_by of a unit whose request waits in a batch
BATCH_LEASE = timedelta(days=3)  # past the provider's 24 h window: the poller ends it first
METADATA_KEY = "emoreview_batch"
_LOCK_CLASS = 0x0E3B  # advisory lock namespace of batch polls (pg_try_advisory_lock(class, run))


@dataclass
class BatchPoll:
    open: bool = False  # requests of these runs still wait in batches
    next_units: list[UnitRef] = field(default_factory=list)  # to run now (next stage, retries)
    submitted: int = 0
    ingested: int = 0


def stage_request(*, unit: StageResult, body: dict[str, object]) -> None:
    """Keep the unit's request for a batch; the unit stays running, held by the batch."""
    with transaction.atomic():
        held = StageResult.objects.filter(
            pk=unit.pk, status=RUNNING, claimed_by=unit.claimed_by
        ).update(claimed_by=BATCH_HOLDER, lease_until=timezone.now() + BATCH_LEASE)
        if held:
            BatchRequest.objects.update_or_create(unit=unit, defaults={"body": body, "batch": None})


def poll_batches(*, run_ids: list[int] | None = None) -> BatchPoll:
    """One pass: cancel the batches of cancelled runs, submit staged requests, poll and ingest
    submitted batches. Provider errors are logged and tried again on the next pass."""
    report = BatchPoll()
    # Any cancelled run's batches, not only these runs': a cancel may come from elsewhere.
    runs = PipelineRun.objects.filter(model_batches__status__in=_LIVE)
    for run in PipelineRun.objects.filter(pk__in=runs.values("pk"), cancel_requested=True):
        cancel_run_batches(run=run)
    active = PipelineRun.objects.filter(cancel_requested=False)
    if run_ids is not None:
        active = active.filter(pk__in=run_ids)
    for run in active.filter(pk__in=_runs_with_work()):
        with _run_lock(run.pk) as mine:
            if not mine:  # another poll (a slow beat tick) is at it: it reports the run open
                report.open = True
                continue
            _submit_staged(run, report)
            for batch in ModelBatch.objects.filter(run=run, status=ModelBatch.Status.SUBMITTED):
                _poll_one(run, batch, report)
            report.open = report.open or _has_open(run.pk)
    return report


@contextlib.contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    """One poll at a time per run, or two could send the same staged requests (PostgreSQL: a
    session advisory lock; elsewhere, SQLite, one process runs the pipeline)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, run_id])
        mine = bool(cursor.fetchone()[0])
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, run_id])


_LIVE = (ModelBatch.Status.OPEN, ModelBatch.Status.SUBMITTED)


def _runs_with_work() -> list[int]:
    staged = BatchRequest.objects.filter(batch__isnull=True).values_list("unit__run_id", flat=True)
    live = ModelBatch.objects.filter(status__in=_LIVE).values_list("run_id", flat=True)
    return sorted({pk for pk in [*staged, *live] if pk is not None})


def _has_open(run_id: int) -> bool:
    staged = BatchRequest.objects.filter(
        unit__run_id=run_id, batch__isnull=True, unit__status=RUNNING, unit__claimed_by=BATCH_HOLDER
    ).exists()  # a request whose unit was let go meanwhile (Ctrl+C) waits for nothing
    return staged or ModelBatch.objects.filter(run_id=run_id, status__in=_LIVE).exists()


def _submit_staged(run: PipelineRun, report: BatchPoll) -> None:
    config = run_config(data=run.config)
    for batch in ModelBatch.objects.filter(run=run, status=ModelBatch.Status.OPEN):
        _send(batch, config, report)  # written before a crash: send (or find) it now
    staged = BatchRequest.objects.filter(unit__run=run, batch__isnull=True, unit__status=RUNNING)
    groups = sorted(set(staged.values_list("unit__stage", "unit__model_name")))
    for stage, model_name in groups:
        endpoint = config.critic if stage == CRITIC else config.annotators.get(model_name)
        if endpoint is None:
            continue
        while True:
            with transaction.atomic():
                ids = list(
                    staged.filter(unit__stage=stage, unit__model_name=model_name)
                    .order_by("unit_id")
                    .values_list("id", flat=True)[: endpoint.batch_max_requests]
                )
                if not ids:
                    break
                batch = ModelBatch.objects.create(
                    run=run, stage=stage, endpoint=endpoint.name, key=uuid.uuid4().hex,
                    requests=len(ids),
                )  # fmt: skip
                BatchRequest.objects.filter(pk__in=ids).update(batch=batch)
            _send(batch, config, report)


def _send(batch: ModelBatch, config: object, report: BatchPoll) -> None:
    from annotator.adapters.batch_api import BatchApi

    endpoint = _endpoint(batch, config)
    api = BatchApi(config=endpoint)
    try:
        found = api.find(key=METADATA_KEY, value=batch.key) if batch.input_file_id else None
        if found is None:
            rows = batch.items.order_by("unit_id").values_list("unit_id", "body")
            jsonl = b"".join(
                orjson.dumps({"custom_id": str(unit_id), "method": "POST",
                              "url": "/v1/chat/completions", "body": body}) + b"\n"
                for unit_id, body in rows
            )  # fmt: skip
            # Marked first: after a crash from here on, the batch is looked up by its key.
            ModelBatch.objects.filter(pk=batch.pk).update(input_file_id="uploading")
            file_id, found = api.submit(jsonl=jsonl, metadata={METADATA_KEY: batch.key})
            batch.input_file_id = file_id
    except ModelError as exc:
        logger.warning("batch %s of run %s not submitted: %s", batch.key, batch.run_id, exc)
        ModelBatch.objects.filter(pk=batch.pk).update(error=str(exc)[:2000])
        return
    now = timezone.now()
    ModelBatch.objects.filter(pk=batch.pk).update(
        status=ModelBatch.Status.SUBMITTED, batch_id=found, submitted_at=now,
        input_file_id=batch.input_file_id or "found", error="",
    )  # fmt: skip
    batch.status, batch.batch_id = ModelBatch.Status.SUBMITTED, found
    report.submitted += 1


def _endpoint(batch: ModelBatch, config: object):
    from annotator.pipeline.config import PipelineConfig

    assert isinstance(config, PipelineConfig)
    endpoint = config.critic if batch.stage == CRITIC else config.annotators[batch.endpoint]
    assert endpoint is not None
    return endpoint


def _poll_one(run: PipelineRun, batch: ModelBatch, report: BatchPoll) -> None:
    from annotator.adapters.batch_api import FINAL_STATES, BatchApi

    api = BatchApi(config=_endpoint(batch, run_config(data=run.config)))
    try:
        state = api.retrieve(batch_id=batch.batch_id)
        ModelBatch.objects.filter(pk=batch.pk).update(
            provider_status=state.status, polled_at=timezone.now()
        )
        if state.status not in FINAL_STATES:
            return
        outcome = ingest_batch(api=api, batch=batch, state=state)
    except ModelError as exc:
        logger.warning("batch %s of run %s: %s; polled again later", batch.batch_id, run.pk, exc)
        return
    report.ingested += outcome.ingested
    report.next_units += outcome.next_units


def cancel_run_batches(*, run: PipelineRun) -> int:
    """Cancel the run's batches at the provider; their units go back to pending, so running the
    pipeline again stages them anew. Returns how many batches were cancelled."""
    from annotator.adapters.batch_api import BatchApi

    config = run_config(data=run.config)
    cancelled = 0
    for batch in ModelBatch.objects.filter(run=run, status__in=_LIVE):
        if batch.batch_id:
            try:
                BatchApi(config=_endpoint(batch, config)).cancel(batch_id=batch.batch_id)
            except ModelError as exc:
                logger.warning("batch %s not cancelled yet: %s", batch.batch_id, exc)
                continue
        with transaction.atomic():
            ModelBatch.objects.filter(pk=batch.pk).update(
                status=ModelBatch.Status.CANCELLED, finished_at=timezone.now()
            )
            release_units(unit_ids=list(batch.items.values_list("unit_id", flat=True)))
        cancelled += 1
    staged = BatchRequest.objects.filter(unit__run=run, batch__isnull=True)
    release_units(unit_ids=list(staged.values_list("unit_id", flat=True)))
    return cancelled
