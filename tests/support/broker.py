"""Pointing the Celery app (and the mask wake-ups) at a broker that does not answer, in-process:
inside `with broker_at(UNREACHABLE_BROKER, settings):` apply_async fails as with Redis down.
"""

from __future__ import annotations

import os
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


# Celery reads the CELERY_BROKER_URL environment variable first, then the Django namespace's
# keys, then its own names: all are set, and put back as they were afterwards.
_KEYS = ("broker_url", "CELERY_BROKER_URL", "task_always_eager", "CELERY_TASK_ALWAYS_EAGER")


def _configure(url: str, eager: bool) -> None:
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.update(
        broker_url=url,
        CELERY_BROKER_URL=url,
        task_always_eager=eager,
        CELERY_TASK_ALWAYS_EAGER=eager,
    )


@contextmanager
def broker_at(url: str, settings: Any, *, eager: bool = False) -> Iterator[None]:
    """Publish to `url` (not inline) until the block ends; then back to what it was."""
    env_before = os.environ.get("CELERY_BROKER_URL")
    changes = app.conf.changes
    assert changes is not None  # the app is configured (annotator/celery.py)
    conf_before = {key: changes[key] for key in _KEYS if key in changes}
    setting_before = settings.CELERY_BROKER_URL
    _drop_connections()
    breaker.reset()
    _configure(url, eager)
    settings.CELERY_BROKER_URL = url  # the wake-ups (review/services/mask_wakeup.py) too
    try:
        yield
    finally:
        _drop_connections()
        breaker.reset()
        if env_before is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env_before
        for key in _KEYS:
            changes.pop(key, None)
        changes.update(conf_before)
        settings.CELERY_BROKER_URL = setting_before
