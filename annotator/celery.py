"""The Celery app. Broker from CELERY_BROKER_URL; without one, tasks run in-process."""

from __future__ import annotations

import os

from celery import Celery
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
