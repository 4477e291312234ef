"""Waking a request that waits for a mask: the worker LPUSHes on a key per edit, the request
BLPOPs it (Redis), so a click's response can carry its mask ~ms after the worker stores it,
without fixed polling intervals. Without a Redis broker nothing waits: tasks run in-process
(the result is stored before the response) or the page polls.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

WAKE_PREFIX = "emoreview:maskedit:"
WAKE_TTL_SECONDS = 60


@functools.lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    import redis

    # A Redis that does not answer fails fast: the page polls instead (mask_dispatch).
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=2)


def _wake_client() -> Any:
    url = settings.CELERY_BROKER_URL
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return _redis_client(url)


def tasks_run_inline() -> bool:
    """True without a broker: a queued task has already run when on_commit returns."""
    return bool(current_app.conf.task_always_eager)


def notify_mask_edit_finished(*, edit_id: int) -> None:
    """Tell a request waiting on `edit_id` that its result (or its discarding) is stored."""
    client = _wake_client()
    if client is None:
        return
    import redis

    key = f"{WAKE_PREFIX}{edit_id}"
    try:
        client.pipeline(transaction=False).lpush(key, 1).expire(key, WAKE_TTL_SECONDS).execute()
    except redis.RedisError as exc:  # the poll still finds the result, a little later
        logger.warning("mask edit %s: wake-up not sent (%s)", edit_id, exc)


def wait_for_mask_edit(*, edit_id: int, timeout: float) -> bool:
    """Block up to `timeout` seconds for the worker's wake-up; True when it came."""
    client = _wake_client()
    if client is None or timeout <= 0 or tasks_run_inline():
        return False
    import redis

    try:
        return client.blpop([f"{WAKE_PREFIX}{edit_id}"], timeout=timeout) is not None
    except redis.RedisError as exc:
        logger.warning("mask edit %s: waiting for the wake-up failed (%s)", edit_id, exc)
        return False
