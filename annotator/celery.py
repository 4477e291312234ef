"""The Celery app. Broker from CELERY_BROKER_URL; without one, tasks run in-process."""

from __future__ import annotations

import contextlib
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


@app.on_after_configure.connect
def _schedule_resend_checks(sender: Celery, **kwargs: Any) -> None:
    """Beat (`celery -A annotator beat`) runs the re-send checks: units and clicks that a dead
    worker or an absent broker left behind are sent again from the database. Tasks are named,
    not imported (annotator never imports review); a tick not run in time is dropped."""
    from django.conf import settings

    every = float(settings.PIPELINE_RESEND_SECONDS)
    sender.add_periodic_task(
        every, sender.signature("annotator.resend_stuck_units", options={"expires": every}),
        name="resend-stuck-pipeline-units",
    )  # fmt: skip
    # Batch mode: submit staged requests, poll the provider's batches (annotator/pipeline/batch.py).
    batches = float(settings.PIPELINE_BATCH_POLL_SECONDS)
    sender.add_periodic_task(
        batches, sender.signature("annotator.pipeline.poll_batches", options={"expires": batches}),
        name="poll-pipeline-batches",
    )  # fmt: skip
    # Mask edits hold leases of seconds: checked more often (review/services/mask_dispatch.py).
    masks = float(getattr(settings, "MASK_RESEND_SECONDS", 10))
    sender.add_periodic_task(
        masks, sender.signature("review.resend_stuck_mask_edits", options={"expires": masks}),
        name="resend-stuck-mask-edits",
    )  # fmt: skip
    # Export jobs hold leases of a minute (review/services/export_jobs.py).
    exports = float(getattr(settings, "EXPORT_RESEND_SECONDS", 30))
    sender.add_periodic_task(
        exports,
        sender.signature("review.resend_stuck_export_jobs", options={"expires": exports}),
        name="resend-stuck-export-jobs",
    )
    # Consensus refits after review activity (review/services/latent_refit.py).
    refit = float(getattr(settings, "CONSENSUS_REFIT_CHECK_SECONDS", 60))
    sender.add_periodic_task(
        refit, sender.signature("review.refit_stale_consensus", options={"expires": refit}),
        name="refit-stale-consensus",
    )  # fmt: skip
    # Planner statistics for the tables people write, where autovacuum is off or behind
    # (annotator/services/planner_statistics.py).
    stats = float(settings.STATISTICS_CHECK_SECONDS)
    sender.add_periodic_task(
        stats, sender.signature("annotator.analyze_stale_tables", options={"expires": stats}),
        name="analyze-stale-tables",
    )  # fmt: skip


@signals.celeryd_init.connect
def _name_the_worker(
    sender: str | None = None, conf: Any = None, options: Any = None, **kwargs: Any
) -> None:
    """Before the pool starts: claims made in this worker name it (children inherit this)."""
    from annotator.pipeline.runs.lease import set_worker_identity

    pool = (options or {}).get("pool_cls") or getattr(conf, "worker_pool", None) or "prefork"
    name = pool if isinstance(pool, str) else f"{pool.__module__}.{pool.__name__}"
    # Solo and prefork processes run one task at a time: a claim of their own is a past try.
    # Thread (or green) pools run several: their own claims lapse with the lease like others'.
    single = any(kind in name.lower() for kind in ("solo", "prefork"))
    set_worker_identity(node=str(sender or ""), main_pid=os.getpid(), single_task=single)


@signals.worker_process_init.connect
def _in_pool_child(**kwargs: Any) -> None:
    from annotator.pipeline.runs.lease import in_pool_child

    in_pool_child()


@signals.worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """The worker's row in WorkerHeartbeat, renewed every few seconds (/healthz reads it)."""
    from annotator.pipeline.runs.lease import start_worker_heartbeat

    queues = list(getattr(sender.app.amqp.queues, "consume_from", None) or []) if sender else []
    start_worker_heartbeat(queues=queues)


@signals.worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    from django.db import DatabaseError

    from annotator.pipeline.runs.lease import stop_worker_heartbeat

    # Shutting down with the database away: the row ages out instead.
    with contextlib.suppress(DatabaseError):
        stop_worker_heartbeat()


@signals.task_prerun.connect
def _drop_old_connections(task: Any = None, **kwargs: Any) -> None:
    """Connections are kept across tasks (CELERY_DB_REUSE_MAX); like Django at the start of a
    request, close those past CONN_MAX_AGE or broken. Not for eager tasks: they run inside the
    caller's transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
