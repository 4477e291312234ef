"""Pointing the Celery app (and the mask wake-ups) at a broker that does not answer, in-process:
inside `with broker_at(UNREACHABLE_BROKER, settings):` apply_async fails as with Redis down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import pools

from annotator.celery import app
from review.services.mask_dispatch import breaker

# Nothing listens on port 1: connecting is refused at once.
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def _drop_connections() -> None:
    # kombu keeps connection and producer pools per broker URL, process-wide: start afresh.
    pools.reset()
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@contextmanager
def broker_at(url: str, settings: Any, *, eager: bool = False) -> Iterator[None]:
    """Publish to `url` (not inline) until the block ends; then back to what it was."""
    before = (app.conf.broker_url, app.conf.task_always_eager, settings.CELERY_BROKER_URL)
    _drop_connections()
    breaker.reset()
    app.conf.update(broker_url=url, task_always_eager=eager)
    settings.CELERY_BROKER_URL = url  # the wake-ups (review/services/mask_wakeup.py) too
    try:
        yield
    finally:
        _drop_connections()
        breaker.reset()
        app.conf.update(broker_url=before[0], task_always_eager=before[1])
        settings.CELERY_BROKER_URL = before[2]
