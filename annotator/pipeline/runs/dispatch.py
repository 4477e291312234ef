"""Hand units to Celery after the transaction commits; or tell that there is no broker."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

from annotator.pipeline.runs.units import QUEUES, UnitRef


def uses_broker() -> bool:
    """False in the embedded default (no CELERY_BROKER_URL): units then run in-process."""
    return not settings.CELERY_TASK_ALWAYS_EAGER


def send_units(units: Iterable[UnitRef]) -> None:
    """One task per unit on its stage's queue, published once the current transaction commits
    (at once outside one), so a worker never looks for rows it cannot see yet."""
    refs = list(units)
    if refs:
        transaction.on_commit(partial(_publish, refs))


def _publish(refs: list[UnitRef], producer: Any = None) -> None:
    from annotator.celery import app
    from annotator.pipeline.tasks import STAGE_TASKS

    with app.producer_or_acquire(producer) as producer:  # one connection for the lot
        for ref in refs:
            task = STAGE_TASKS[ref.stage]
            task.apply_async((ref.id,), queue=QUEUES[ref.stage], producer=producer)
