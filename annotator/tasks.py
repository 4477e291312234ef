"""Celery tasks of the machine side. Each task only parses its JSON arguments and calls a service.

Kept light on purpose: the web process imports this module (autodiscovery), so services are
imported inside the task bodies, and nothing here touches the model stack.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="annotator.reverify_samples",
    # Queue "default" (task_default_queue); gpu/llm tasks get theirs from task_routes.
    # A locked SQLite file or a dropped PostgreSQL connection is worth another try; a bug is not.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def reverify_samples(sample_ids: list[int]) -> int:
    """Recompute cross-verification for these samples; safe to run twice."""
    from annotator.services.reverify import reverify_samples as reverify

    return reverify(sample_ids=[int(pk) for pk in sample_ids])


@shared_task(name="annotator.resend_stuck_units", ignore_result=True)
def resend_stuck_units() -> int:
    """Beat: send again the units a dead worker or an absent broker left behind."""
    from annotator.services.pipeline_runs import resend_stuck_units as resend

    return resend().sent


@shared_task(name="annotator.analyze_stale_tables", ignore_result=True)
def analyze_stale_tables() -> list[str]:
    """Beat: planner statistics for the tables that changed since their last ANALYZE."""
    from annotator.services.planner_statistics import analyze_stale_tables as analyze

    return analyze()


# The pipeline stage tasks live in their own module; importing it here registers them.
from annotator.pipeline import tasks as pipeline_tasks  # noqa: E402, F401
