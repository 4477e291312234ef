"""Celery tasks of the pipeline: one per stage, each taking a unit id.

Each is published to its stage's queue (units.QUEUES: annotate and critic on "llm", ground on
"gpu", calibrate and verify on "default"); a retry goes back to the queue it came from.
A task only claims and runs its unit (annotator.pipeline.runs.execution) and publishes the
units that follow. Transient model errors (429, 5xx, timeouts) come back as a delay: the task
is retried with that countdown (Retry-After honoured) up to the endpoint's max_retries, counted
on the unit. The pipeline modules are imported inside the task body: importing this module, as
Celery's autodiscovery and the web process do, loads no model stack.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

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

    delivery = task.request.delivery_info or {}
    # A redelivered message (its worker died) or a retry may retake a unit left "running".
    takeover = bool(delivery.get("redelivered")) or bool(task.request.retries)
    outcome = execute_unit(unit_id=int(unit_id), takeover=takeover)
    if outcome.retry_in is not None:
        raise task.retry(countdown=outcome.retry_in)
    send_units(outcome.next_units)
    return outcome.status


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
