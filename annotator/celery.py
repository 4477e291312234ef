"""The Celery app. Broker from CELERY_BROKER_URL; without one, tasks run in-process."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")

app = Celery("emoreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    # Each queue its own routing key: without one Celery binds every queue with the default
    # queue's key, so a task sent to any of them lands in all three (a gpu worker gets llm work).
    task_queues=[Queue(name, routing_key=name) for name in ("default", "gpu", "llm")],
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
)
app.autodiscover_tasks()


@signals.task_prerun.connect
def _drop_old_connections(task: Any = None, **kwargs: Any) -> None:
    """Connections are kept across tasks (CELERY_DB_REUSE_MAX); like Django at the start of a
    request, close those past CONN_MAX_AGE or broken. Not for eager tasks: they run inside the
    caller's transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
