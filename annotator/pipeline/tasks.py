"""Celery tasks of the pipeline: one per stage, each taking a unit id; and run_chunk, many
units of a model stage at once (runs/chunk.py, how the model stages are sent by default).

Each is published to its stage's queue (units.QUEUES: annotate and critic on "llm", ground on
"gpu", calibrate and verify on "default"); a retry goes back to the queue it came from.
A task only claims and runs its unit (annotator.pipeline.runs.execution) and publishes the
units that follow. Transient model errors (429, 5xx, timeouts) come back as a delay: the task
is retried with that countdown (Retry-After honoured) up to the endpoint's max_retries, counted
on the unit. The pipeline modules are imported inside the task body: importing this module, as
Celery's autodiscovery and the web process do, loads no model stack.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Reject
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)
# The config allows max_retries up to 20 per endpoint; the unit counts attempts, not Celery.
_CELERY_RETRY_CEILING = 50
_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    # A locked SQLite file or a dropped PostgreSQL connection is worth another try.
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": _CELERY_RETRY_CEILING,
}


def execute_unit_task(task: Task, unit_id: int) -> str:
    from annotator.pipeline.runs.dispatch import send_units
    from annotator.pipeline.runs.execution import execute_unit

    # A retry's earlier try ended: it may retake the claim this process left. A redelivered
    # message retakes a dead worker's claim through the claim's lease (runs/claim.py).
    outcome = execute_unit(unit_id=int(unit_id), takeover=bool(task.request.retries))
    if outcome.retry_in is not None:
        _retry(task, int(unit_id), outcome.retry_in, outcome.status)
        return outcome.status
    send_units(outcome.next_units)
    return outcome.status


def _retry(task: Task, unit_id: int, countdown: float, status: str) -> None:
    """Publish the retry, then mark the unit sent; with the broker away the unit stays due and
    the re-send check sends it (a "busy" unit comes back through its lease)."""
    from annotator.pipeline.runs.dispatch import BROKER_ERRORS, mark_sent

    try:
        retry = task.retry(countdown=countdown, throw=False)
    except Reject as rejected:  # Celery's wrapping of a failed publish
        if not isinstance(getattr(rejected, "reason", None), BROKER_ERRORS):
            raise
        logger.warning("unit %s: retry not sent (%s); re-sent later", unit_id, rejected)
        return
    if status == "retry":
        mark_sent([unit_id])
    raise retry


@shared_task(name="annotator.pipeline.annotate", **_OPTIONS)
def annotate_unit(self: Task, unit_id: int) -> str:
    """One annotator's annotation of one sample."""
    return execute_unit_task(self, unit_id)


@shared_task(name="annotator.pipeline.calibrate", **_OPTIONS)
def calibrate_unit(self: Task, unit_id: int) -> str:
    """The classifier's label distribution for one sample."""
    return execute_unit_task(self, unit_id)


@shared_task(name="annotator.pipeline.ground", **_OPTIONS)
def ground_unit(self: Task, unit_id: int) -> str:
    """Boxes and masks for one sample's phrases."""
    return execute_unit_task(self, unit_id)


@shared_task(name="annotator.pipeline.verify", **_OPTIONS)
def verify_unit(self: Task, unit_id: int) -> str:
    """Weighted cross-verification of one sample; decides whether the critic sees it."""
    return execute_unit_task(self, unit_id)


@shared_task(name="annotator.pipeline.critic", **_OPTIONS)
def critic_unit(self: Task, unit_id: int) -> str:
    """The critic's verdict on one sample (a revise verdict starts its next round)."""
    return execute_unit_task(self, unit_id)


STAGE_TASKS: dict[str, Any] = {
    "annotate": annotate_unit,
    "calibrate": calibrate_unit,
    "ground": ground_unit,
    "verify": verify_unit,
    "critic": critic_unit,
}


@shared_task(name="annotator.pipeline.chunk", **_OPTIONS)
def run_chunk(self: Task, stage: str, unit_ids: list[int]) -> dict[str, int]:
    """A chunk of one model stage's units (runs/chunk.py): claimed, called and recorded
    together; a unit to try again later goes back as its own task."""
    from annotator.pipeline.runs.chunk import execute_chunk
    from annotator.pipeline.runs.dispatch import publish_later, send_units

    outcome = execute_chunk(
        stage=str(stage),
        unit_ids=[int(pk) for pk in unit_ids],
        takeover=bool(self.request.retries),
        pooled=not self.request.is_eager,
    )
    publish_later(outcome.later)
    send_units(outcome.next_units)
    return outcome.statuses


@shared_task(name="annotator.pipeline.poll_batches", ignore_result=True)
def poll_batches_task() -> int:
    """Beat (every PIPELINE_BATCH_POLL_SECONDS): submit staged batch-mode requests, poll the
    provider's batches, ingest the finished ones and send the units that follow."""
    from annotator.pipeline.batch import poll_batches
    from annotator.pipeline.runs.dispatch import send_units

    polled = poll_batches()
    send_units(polled.next_units)
    return polled.ingested
