"""Hand units to Celery after the transaction commits; or tell that there is no broker.

An outbox: a unit due to be sent carries StageResult.send_due, set in the transaction that
made it due; once the broker took its message, send_due is cleared and sent_at set. A unit the
broker never took (it was down) keeps send_due and is sent again by the re-send check
(annotator/services/unit_recovery.py), so no unit is lost to a failed publish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from annotator.models import StageResult
from annotator.pipeline.runs.units import ANNOTATE, CRITIC, QUEUES, UnitRef

logger = logging.getLogger(__name__)
# What a publish raises when the broker cannot be reached (kombu wraps most in the first).
BROKER_ERRORS: tuple[type[BaseException], ...] = (BrokerOperationalError, OSError, TimeoutError)
_MARK_BATCH = 1000
CHUNKED_STAGES = frozenset({ANNOTATE, CRITIC})  # the model stages: a call each, same shape


def uses_broker() -> bool:
    """False in the embedded default (no CELERY_BROKER_URL): units then run in-process."""
    return not settings.CELERY_TASK_ALWAYS_EAGER


def send_units(units: Iterable[UnitRef]) -> None:
    """One task per unit on its stage's queue, published once the current transaction commits
    (at once outside one), so a worker never looks for rows it cannot see yet."""
    refs = list(units)
    if refs:
        transaction.on_commit(partial(publish_units, refs))


def chunked(stage: str) -> bool:
    """Whether this stage's units go PIPELINE_CHUNK_UNITS to a task (run_chunk)."""
    return stage in CHUNKED_STAGES and settings.PIPELINE_CHUNK_UNITS > 1


def messages(refs: list[UnitRef]) -> list[tuple[str, list[int]]]:
    """(stage, unit ids) per message: model-stage units PIPELINE_CHUNK_UNITS to a message (one
    chunk task), the others one each."""
    size = max(1, settings.PIPELINE_CHUNK_UNITS)
    grouped: dict[str, list[int]] = {}
    single: list[tuple[str, list[int]]] = []
    for ref in refs:
        if chunked(ref.stage):
            grouped.setdefault(ref.stage, []).append(ref.id)
        else:
            single.append((ref.stage, [ref.id]))
    chunks = [
        (stage, ids[offset : offset + size])
        for stage, ids in grouped.items()
        for offset in range(0, len(ids), size)
    ]
    return chunks + single


def publish_units(refs: list[UnitRef], producer: Any = None) -> bool:
    """Publish now; True when the broker took every message. On a broker error the rest stay
    due (send_due) for the re-send check, and False is returned: never raised, so neither a
    page nor a worker's task fails because the broker is away."""
    from annotator.celery import app
    from annotator.pipeline.tasks import STAGE_TASKS, run_chunk

    sent: list[int] = []
    started = timezone.now()  # a unit made due again after this keeps its mark
    try:
        with app.producer_or_acquire(producer) as producer:  # one connection for the lot
            for stage, ids in messages(refs):
                if chunked(stage):
                    run_chunk.apply_async((stage, ids), queue=QUEUES[stage], producer=producer)
                else:
                    STAGE_TASKS[stage].apply_async(
                        (ids[0],), queue=QUEUES[stage], producer=producer
                    )
                sent += ids
    except BROKER_ERRORS as exc:
        logger.warning(
            "broker unreachable: %d of %d units not sent (%s); they are sent again when it "
            "answers", len(refs) - len(sent), len(refs), exc,
        )  # fmt: skip
        mark_sent(sent, due_before=started)
        return False
    mark_sent(sent, due_before=started)
    return True


def publish_later(later: list[tuple[UnitRef, float]]) -> None:
    """Each unit's own task, `countdown` seconds from now (a chunk's transient errors and busy
    units); with the broker away they stay due for the re-send check (a busy one comes back
    through its lease)."""
    from annotator.pipeline.tasks import STAGE_TASKS

    if not later:
        return
    started = timezone.now()
    sent: list[int] = []
    try:
        for ref, countdown in later:
            STAGE_TASKS[ref.stage].apply_async(
                (ref.id,), queue=QUEUES[ref.stage], countdown=countdown
            )
            sent.append(ref.id)
            logger.info("unit %s (%s): sent again in %.1f s", ref.id, ref.stage, countdown)
    except BROKER_ERRORS as exc:
        logger.warning("broker unreachable: %d retries not sent (%s)", len(later) - len(sent), exc)
    mark_sent(sent, due_before=started)


def mark_sent(ids: list[int], *, due_before: datetime | None = None) -> None:
    """The broker has these units' messages: nothing left to re-send (`due_before`: only marks
    made before the publish began; a later one asks for another message)."""
    now = timezone.now()
    for offset in range(0, len(ids), _MARK_BATCH):
        batch = ids[offset : offset + _MARK_BATCH]
        StageResult.objects.filter(pk__in=batch, send_due__lte=due_before or now).update(
            send_due=None, sent_at=now
        )


def queue_lengths(names: list[str]) -> dict[str, int] | None:
    """Messages waiting in each queue (Redis LLEN); None for a broker without lists (memory://,
    AMQP). Raises one of BROKER_ERRORS when the broker cannot be reached."""
    from annotator.celery import app

    with app.connection_for_read() as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0,
            timeout=max(1, round(settings.CELERY_BROKER_CONNECTION_TIMEOUT)),
        )  # fmt: skip
        client = getattr(connection.default_channel, "client", None)
        if client is None or not hasattr(client, "llen"):
            return None
        return {name: int(client.llen(name)) for name in names}
